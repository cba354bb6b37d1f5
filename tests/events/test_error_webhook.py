"""The error webhook (WEBHOOK_EVENTS_ERRORS, WEBHOOK_EVENTS_ERRORS_WEBHOOK): every error answer
is POSTed in Evolution's shape, without the global key; a dead receiver holds up no request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.conftest import API_KEY, make_settings, start_harness, stop_harness
from tests.events.receiver import Receiver
from tests.events.test_config_routes import fixture_body
from wagate.config import SettingsError


async def test_errors_are_reported_without_the_global_key(tmp_path: Path) -> None:
    hook = await Receiver().start()
    settings = make_settings(
        tmp_path, webhook_errors=True, webhook_errors_url=hook.url + "/errors"
    )
    h, ctx = await start_harness(settings)
    try:
        fx = fixture_body("events.error.not-found")
        r = await h.client.get("/instance/connectionState/fx-nope")
        assert r.status_code == 404
        r = await h.client.post("/instance/create", json={"instanceName": 5})
        assert r.status_code == 400
        deadline = time.monotonic() + 10
        while len(hook.bodies("error")) < 2:
            assert time.monotonic() < deadline, hook.bodies()
            await asyncio.sleep(0.02)
        missing, invalid = hook.bodies("error")
        want = fx["request"]["body"]
        assert set(missing) == set(want) and missing["data"] == want["data"]
        assert missing["api_key"] is None  # Evolution sends the global key here, in clear
        assert API_KEY not in str(hook.bodies())
        assert missing["date_time"].endswith("Z") and missing["server_url"] == settings.public_url
        assert invalid["data"]["status"] == 400 and invalid["data"]["error"] == "Bad Request"
        assert invalid["data"]["message"] == r.json()["response"]["message"]
        assert hook.received[0].path == "/errors"
    finally:
        await stop_harness(h, ctx)
        await hook.stop()


async def test_a_dead_error_webhook_holds_up_no_request(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, webhook_errors=True, webhook_errors_url="http://127.0.0.1:9/errors"
    )
    h, ctx = await start_harness(settings)
    try:
        started = time.monotonic()
        for _ in range(20):
            r = await h.client.get("/instance/connectionState/nope")
            assert r.status_code == 404
        assert time.monotonic() - started < 5
    finally:
        await stop_harness(h, ctx)


async def test_errors_without_a_url_or_with_a_bad_one_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_EVENTS_ERRORS_WEBHOOK"):
        h, ctx = await start_harness(make_settings(tmp_path, webhook_errors=True))
        await stop_harness(h, ctx)
    with pytest.raises(Exception, match="http"):
        make_settings(tmp_path, webhook_errors_url="ftp://x")
