"""Evolution's environment names that change what the API does: tokens shown by fetchInstances
(and carried by events), CORS, the API docs, the linked device's name, DEL_TEMP_INSTANCES, and
the names refused at start-up (CACHE_REDIS_ENABLED, NATS_EXCHANGE_NAME)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Harness, make_settings, start_harness, stop_harness
from wagate.config import SettingsError, load_settings
from wagate.store.tokens import TokenBox


@asynccontextmanager
async def _running(tmp_path: Path, **extra: Any) -> AsyncIterator[Harness]:
    """The app on `tmp_path`'s database with these settings, stopped on the way out."""
    h, ctx = await start_harness(make_settings(tmp_path, **extra))
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


async def _rows(h: Harness, apikey: str | None = None) -> list[dict[str, Any]]:
    headers = {"apikey": apikey} if apikey else {}
    r = await h.client.get("/instance/fetchInstances", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def _sealed(h: Harness, name: str) -> str | None:
    async with h.app.state.db.connect() as conn:
        value = await conn.scalar(
            text("SELECT token_sealed FROM instances WHERE name = :n"), {"n": name}
        )
    return None if value is None else str(value)


# --- AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES ---------------------------------------------


async def test_tokens_are_left_out_unless_exposed(tmp_path: Path) -> None:
    async with _running(tmp_path) as h:
        token = (await h.create("quiet"))["hash"]
        for rows in (await _rows(h), await _rows(h, token)):
            assert [r["name"] for r in rows] == ["quiet"]
            assert "token" not in rows[0], "left out, never null"
        await h.client.get("/instance/connect/quiet")
        assert h.events and all(e["apikey"] is None for e in h.events)
        sealed = await _sealed(h, "quiet")
        assert sealed is not None and token not in sealed, "kept sealed, never in clear"


async def test_exposed_tokens_are_shown_and_survive_a_restart(tmp_path: Path) -> None:
    async with _running(tmp_path, expose_in_fetch=True) as h:
        made = (await h.create("shown"))["hash"]
        custom = (await h.create("custom", token="my-own-token-0001"))["hash"]
        assert custom == "my-own-token-0001"
        rows = {r["name"]: r for r in await _rows(h)}
        assert rows["shown"]["token"] == made
        assert rows["custom"]["token"] == custom
        assert [r["token"] for r in await _rows(h, custom)] == [custom]
        created = h.events_of("custom", "instance.create")
        assert created and created[0]["apikey"] == custom, "events carry the instance token"
        assert (await _sealed(h, "shown")) not in (None, made)
    async with _running(tmp_path, expose_in_fetch=True) as h:  # same database, same key
        rows = {r["name"]: r for r in await _rows(h)}
        assert (rows["shown"]["token"], rows["custom"]["token"]) == (made, custom)
        await h.client.get("/instance/connect/shown")  # events after the restart
        updates = h.events_of("shown", "connection.update")
        assert updates and all(e["apikey"] == made for e in updates)
        r = await h.client.get("/instance/connectionState/shown", headers={"apikey": made})
        assert r.status_code == 200


async def test_tokens_sealed_under_another_key_or_never_sealed_show_null_until_used(
    tmp_path: Path,
) -> None:
    async with _running(
        tmp_path, expose_in_fetch=True, token_key="first-token-key-0123456789"
    ) as h:
        token = (await h.create("rotated"))["hash"]
        old = (await h.create("legacy"))["hash"]
        async with h.app.state.db.begin() as conn:  # as a row from before tokens were sealed
            await conn.execute(
                text("UPDATE instances SET token_sealed = NULL WHERE name = 'legacy'")
            )
    async with _running(
        tmp_path, expose_in_fetch=True, token_key="second-token-key-0123456789"
    ) as h:
        rows = {r["name"]: r for r in await _rows(h)}
        assert rows["rotated"]["token"] is None, "sealed under another key: cannot be shown"
        assert rows["legacy"]["token"] is None, "stored as a digest only: cannot be shown"
        for name, key in (("rotated", token), ("legacy", old)):  # authentication still works
            r = await h.client.get(f"/instance/connectionState/{name}", headers={"apikey": key})
            assert r.status_code == 200, name
        made = (await h.create("fresh"))["hash"]
        assert {r["name"]: r["token"] for r in await _rows(h)}["fresh"] == made
        # a token that was used is known again: it is sealed under today's key
        for _ in range(100):
            shown = {r["name"]: r["token"] for r in await _rows(h)}
            if shown["rotated"] and shown["legacy"]:
                break
            await asyncio.sleep(0.02)
        assert (shown["rotated"], shown["legacy"]) == (token, old)
        before = {r["name"]: r["updatedAt"] for r in await _rows(h)}
    async with _running(
        tmp_path, expose_in_fetch=True, token_key="second-token-key-0123456789"
    ) as h:
        rows = {r["name"]: r for r in await _rows(h)}
        assert (rows["rotated"]["token"], rows["legacy"]["token"]) == (token, old)
        assert {n: r["updatedAt"] for n, r in rows.items()} == before, "not a change of theirs"


def test_token_box_round_trip_and_refusals() -> None:
    box = TokenBox("a-key-of-sixteen-chars")
    sealed = box.seal("TOKEN-1")
    assert sealed != box.seal("TOKEN-1"), "a fresh nonce every time"
    assert box.open(sealed) == "TOKEN-1"
    assert TokenBox("another-key-0123456789").open(sealed) is None
    assert box.open(None) is None
    assert box.open("v1:not-base64!") is None
    assert box.open("v0:abc") is None
    assert box.open(sealed[:-4] + "AAAA") is None, "tampered"


# --- settings refused at start-up ----------------------------------------------------------


def test_redis_cache_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(data_dir=tmp_path, CACHE_REDIS_ENABLED="true")
    assert "CACHE_REDIS_ENABLED" in str(err.value)
    assert "keeps no cache in Redis" in str(err.value)
    assert not load_settings(data_dir=tmp_path, CACHE_REDIS_ENABLED="false").cache_redis_enabled


def test_nats_exchange_name_is_refused_unless_evolutions_default(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(data_dir=tmp_path, NATS_EXCHANGE_NAME="my_exchange")
    assert "NATS_EXCHANGE_NAME" in str(err.value) and "NATS_PREFIX_KEY" in str(err.value)
    ok = load_settings(data_dir=tmp_path, NATS_EXCHANGE_NAME="evolution_exchange")
    assert ok.nats_exchange_name is None


def test_bad_phone_names_cors_methods_and_token_keys_are_refused(tmp_path: Path) -> None:
    for name, value, words in (
        ("CONFIG_SESSION_PHONE_NAME", "Netscape", "CHROME"),
        ("CONFIG_SESSION_PHONE_CLIENT", "", "CONFIG_SESSION_PHONE_CLIENT"),
        ("CORS_METHODS", "GET,FETCH", "FETCH"),
        ("WAGATE_TOKEN_KEY", "short", "too short"),
    ):
        with pytest.raises(SettingsError) as err:
            load_settings(data_dir=tmp_path, **{name: value})
        assert name in str(err.value) and words in str(err.value), (name, str(err.value))
    s = load_settings(data_dir=tmp_path, CONFIG_SESSION_PHONE_NAME="firefox")
    assert s.session_phone_name == "FIREFOX"


# --- CORS and the docs --------------------------------------------------------------------


async def test_cors_answers_only_the_origins_named(tmp_path: Path) -> None:
    async with _running(
        tmp_path,
        cors_origin="https://app.example, https://ops.example",
        cors_methods="GET,POST",
        cors_credentials=True,
    ) as h:
        pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "apikey"}
        r = await h.client.options(
            "/instance/fetchInstances", headers={"Origin": "https://ops.example", **pre}
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://ops.example"
        assert r.headers["access-control-allow-credentials"] == "true"
        assert set(r.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
        r = await h.client.options(
            "/instance/fetchInstances",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"},
        )
        assert r.status_code == 400, "a method not in CORS_METHODS"
        r = await h.client.get(
            "/instance/fetchInstances", headers={"Origin": "https://app.example"}
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        r = await h.client.get(
            "/instance/fetchInstances", headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in r.headers
        await h.create("cors")  # connectionState's 200 is answered ahead of the router
        r = await h.client.get(
            "/instance/connectionState/cors", headers={"Origin": "https://app.example"}
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        r = await h.client.get(
            "/instance/connectionState/none", headers={"Origin": "https://app.example"}
        )
        assert (
            r.status_code == 404
            and r.headers["access-control-allow-origin"] == "https://app.example"
        )


async def test_without_cors_origin_no_cors_headers_and_docs_on(tmp_path: Path) -> None:
    async with _running(tmp_path) as h:
        r = await h.client.get("/", headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in r.headers
        assert r.json()["documentation"].endswith("/docs")
        assert (await h.client.get("/docs")).status_code == 200
        assert (await h.client.get("/openapi.json")).status_code == 200


async def test_server_disable_docs_removes_the_docs(tmp_path: Path) -> None:
    async with _running(tmp_path, disable_docs=True) as h:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await h.client.get(path)).status_code == 404, path
        assert (await h.client.get("/")).json()["documentation"] is None


# --- the linked device's name, DEL_TEMP_INSTANCES ------------------------------------------


async def test_phone_shows_the_configured_device_name(tmp_path: Path) -> None:
    async with _running(
        tmp_path, session_phone_client="Acme Support", session_phone_name="Firefox"
    ) as h:
        await h.create("dev")
        await h.client.get("/instance/connect/dev")
        r = await h.client.post("/sim/dev/scan", json={"number": "5511988880001"})
        assert r.json()["state"] == "open"
        r = await h.client.get("/sim/dev/devices")
        assert r.status_code == 200
        devices = r.json()["devices"]
        assert [(d["name"], d["platform"]) for d in devices] == [("Acme Support", "FIREFOX")]
        await h.client.delete("/instance/logout/dev")
        r = await h.client.get("/sim/dev/devices")
        assert r.status_code == 409, "not open: no phone to ask"


async def test_del_temp_instances_deletes_never_paired_instances_at_start(tmp_path: Path) -> None:
    async with _running(tmp_path) as h:
        await h.create("paired")
        await h.client.get("/instance/connect/paired")
        await h.client.post("/sim/paired/scan", json={"number": "5511988880002"})
        await h.create("never")
        await h.create("tried")
        await h.client.get("/instance/connect/tried")
    async with _running(tmp_path) as h:  # off: every instance comes back
        assert sorted(r["name"] for r in await _rows(h)) == ["never", "paired", "tried"]
    async with _running(tmp_path, del_temp_instances=True) as h:
        assert [r["name"] for r in await _rows(h)] == ["paired"]
        assert (await h.client.get("/instance/connectionState/never")).status_code == 404
