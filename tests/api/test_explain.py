"""The lifecycle block's words: the no-route cause from the engine's detail, and a logout that
never says the phone unlinked a device it never paired."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from tests.conftest import make_settings, start_harness, stop_harness
from wagate.core import lifecycle as lc
from wagate.core.status import lifecycle_view, no_route
from wagate.domain.close import Cause

DIAL = "no route to WhatsApp: failed to dial whatsapp web websocket: "
DNS, PROXY = "DNS lookup failed", "proxy unreachable"


@pytest.mark.parametrize(
    ("detail", "cause"),
    [
        (DIAL + "dial tcp: lookup web.whatsapp.com on 10.0.0.53:53: no such host", DNS),
        (DIAL + "lookup web.whatsapp.com: Temporary failure in name resolution", DNS),
        (DIAL + "proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused", PROXY),
        (DIAL + "dial tcp 157.240.0.53:443: connect: connection refused", "connection refused"),
        (DIAL + "dial tcp 157.240.0.53:443: network is unreachable", "network unreachable"),
        (DIAL + "dial tcp 157.240.0.53:443: i/o timeout", "connection timed out"),
        (DIAL + "EOF", "WhatsApp's servers did not answer"),
        ("connection lost", None),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_no_route_names_the_cause(detail: str | None, cause: str | None) -> None:
    assert no_route(detail) == cause


def test_a_reconnecting_instance_with_no_route_says_so_and_what_to_do() -> None:
    inst = lc.Instance(
        state=lc.State.RECONNECTING,
        reason=428,
        cause=Cause.NO_ROUTE,
        detail=DIAL + "lookup web.whatsapp.com: no such host",
        failures=3,
    )
    view = lifecycle_view(inst)
    assert view["message"] == (
        "No route to WhatsApp: DNS lookup failed (failed to dial whatsapp web websocket: "
        "lookup web.whatsapp.com: no such host). wagate retries with backoff (attempt 3)."
    )
    assert view["action"] == "check_network"
    failed = lifecycle_view(dataclasses.replace(inst, state=lc.State.FAILED))
    assert "stopped retrying" in failed["message"] and failed["action"] == "check_network"
    opened = lifecycle_view(lc.Instance(state=lc.State.OPEN))
    assert (opened["message"], opened["action"]) == ("Connected.", "none")


async def test_logout_of_a_never_paired_instance_does_not_speak_of_unlinking(
    tmp_path: Path,
) -> None:
    h, ctx = await start_harness(make_settings(tmp_path))
    try:
        await h.create("never")
        assert (await h.client.get("/instance/connect/never")).json()["code"]
        r = await h.client.delete("/instance/logout/never")
        assert r.status_code == 200
        life = (await h.client.get("/instance/connectionState/never")).json()["lifecycle"]
        assert life["state"] == "logged_out"
        assert "unlink" not in life["message"]
        assert life["message"] == "Logged out; connect again to pair a phone."
        assert life["action"] == "connect"

        # The phone unlinking a paired device is still called that.
        await h.create("paired")
        await h.client.get("/instance/connect/paired")
        await h.client.post("/sim/paired/scan", json={"number": "5511900000002"})
        r = await h.client.post("/sim/paired/disconnect", json={"code": 401})
        assert r.status_code == 200, r.text
        for _ in range(100):
            life = (await h.client.get("/instance/connectionState/paired")).json()["lifecycle"]
            if life["state"] == "logged_out":
                break
            await asyncio.sleep(0.02)
        assert life["state"] == "logged_out"
        assert life["message"] == "Logged out; the device was unlinked."
    finally:
        await stop_harness(h, ctx)
