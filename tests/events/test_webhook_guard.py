"""Webhooks under the private-address guard (WAGATE_PRIVATE_ADDRESSES=false): a receiver on
loopback, named by address or by a name that resolves there, is refused on the connection's
resolved address, and the refusal is a dead delivery with its reason, not silence; an
allow-listed receiver still gets its events. Other ranges are tested on the address check
alone: nothing here connects outside loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

import pytest

from tests.conftest import Harness
from tests.events.conftest import Apps
from tests.events.receiver import Receiver
from wagate.config import SettingsError, load_settings
from wagate.egress import OPEN, Reach, parse_allowed


async def _settled(h: Harness, name: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = (await h.client.get(f"/events/deliveries/{name}")).json()
        if rows and all(r["status"] != "pending" for r in rows):
            return list(rows)
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.05)


async def _hooked_connect(h: Harness, name: str, url: str) -> list[dict[str, Any]]:
    await h.create(name)
    hook = {"enabled": True, "url": url, "events": ["CONNECTION_UPDATE"]}
    r = await h.client.post(f"/webhook/set/{name}", json={"webhook": hook})
    assert r.status_code == 201, r.text
    assert (await h.client.get(f"/instance/connect/{name}")).status_code == 200
    return await _settled(h, name)


async def test_loopback_receivers_are_refused_and_the_refusal_is_visible(
    apps: Apps, receiver: Receiver
) -> None:
    h = await apps.start(fetch_private_addresses=False)
    for name, url in (
        ("v4", f"{receiver.url}/hook"),
        ("v6", f"http://[::1]:{receiver.port}/hook"),
        ("named", f"http://localhost:{receiver.port}/hook"),
        ("mapped", f"http://[::ffff:127.0.0.1]:{receiver.port}/hook"),
    ):
        rows = await _hooked_connect(h, name, url)
        assert [r["status"] for r in rows] == ["dead"], rows
        host = url.split("//")[1].rsplit(":", 1)[0].strip("[]")
        assert rows[0]["lastError"] == (
            f"refused: {host} does not resolve to a public address "
            "(WAGATE_PRIVATE_ADDRESSES=false)"
        )
        assert rows[0]["attempts"] == 1, "a refusal is not retried"
    assert receiver.received == [], "nothing was connected to"


@pytest.mark.parametrize(
    "allowed",
    ["127.0.0.1", "127.0.0.0/8", "localhost", "http://localhost:{port}", "localhost:{port}"],
)
async def test_an_allow_listed_receiver_gets_its_events(
    apps: Apps, receiver: Receiver, allowed: str
) -> None:
    entry = allowed.format(port=receiver.port)
    h = await apps.start(fetch_private_addresses=False, private_addresses_allowed=entry)
    url = f"http://{'127.0.0.1' if allowed[0].isdigit() else 'localhost'}:{receiver.port}/in"
    rows = await _hooked_connect(h, "ok", url)
    assert [r["status"] for r in rows] == ["delivered"], rows
    assert receiver.bodies("connection.update")


async def test_an_allow_list_for_another_port_does_not_open_loopback(
    apps: Apps, receiver: Receiver
) -> None:
    h = await apps.start(
        fetch_private_addresses=False, private_addresses_allowed=f"localhost:{receiver.port + 1}"
    )
    rows = await _hooked_connect(h, "other", f"http://localhost:{receiver.port}/in")
    assert rows[0]["status"] == "dead" and "refused" in rows[0]["lastError"]
    assert receiver.received == []


async def test_the_default_lets_the_walkthroughs_local_receiver_have_its_events(
    apps: Apps, receiver: Receiver
) -> None:
    # the README's walkthrough prints events from a receiver on 127.0.0.1: the default keeps it
    h = await apps.start()
    rows = await _hooked_connect(h, "walk", f"{receiver.url}/hook")
    assert [r["status"] for r in rows] == ["delivered"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
    ],
)
def test_the_address_check_alone(address: str, public: bool) -> None:
    ip = ipaddress.ip_address(address)
    guarded = parse_allowed("")
    assert guarded.permits("h", 80, [ip]) is public
    assert OPEN.permits("h", 80, [ip])
    # an allowed network opens its own range only
    inside = parse_allowed("10.0.0.0/8,fe80::/10,169.254.169.254")
    assert inside.permits("h", 80, [ip]) is (public or address in ("10.1.2.3", "fe80::1"))
    assert inside.permits("169.254.169.254", 80, [ip]) is True  # allowed by name (literal)
    # a name with one private answer among public ones is refused whole
    mixed = [ipaddress.ip_address("93.184.216.34"), ip]
    assert guarded.permits("h", 80, mixed) is public


def test_allow_list_entries() -> None:
    reach = parse_allowed(" hooks.internal , [::1]:9000, https://recv.corp/, 10.0.0.0/8 ,")
    assert reach.hosts == {"hooks.internal"}
    assert reach.origins == {("::1", 9000), ("recv.corp", 443)}
    assert reach.names("HOOKS.internal", 1) and reach.names("[::1]", 9000)
    assert not reach.names("::1", 9001) and not reach.names("recv.corp", 80)
    assert isinstance(reach, Reach) and not reach.private
    for bad in ("http://h/path", "10.0.0.0/33", "://"):
        with pytest.raises(ValueError, match="is not a host"):
            parse_allowed(bad)


def test_settings_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().reach is OPEN
    monkeypatch.setenv("WAGATE_FETCH_PRIVATE_ADDRESSES", "false")  # the older name still acts
    assert not load_settings().reach.private
    monkeypatch.delenv("WAGATE_FETCH_PRIVATE_ADDRESSES")
    monkeypatch.setenv("WAGATE_PRIVATE_ADDRESSES", "false")
    monkeypatch.setenv("WAGATE_PRIVATE_ADDRESSES_ALLOWED", "hooks.internal:8080")
    assert load_settings().reach.origins == {("hooks.internal", 8080)}
    monkeypatch.setenv("WAGATE_PRIVATE_ADDRESSES_ALLOWED", "a b")
    with pytest.raises(SettingsError, match="WAGATE_PRIVATE_ADDRESSES_ALLOWED="):
        load_settings()


async def test_the_operators_global_webhook_is_not_refused(apps: Apps, receiver: Receiver) -> None:
    """WEBHOOK_GLOBAL_URL is the operator's, so the guard trusts its host and port (with
    byEvents' paths); an instance webhook to the same receiver on another port is refused."""
    h = await apps.start(
        fetch_private_addresses=False,
        webhook_global_enabled=True,
        webhook_global_url=f"{receiver.url}/global",
        webhook_global_by_events=True,
        event_switches={"WEBHOOK_EVENTS_INSTANCE_CREATE": True},
    )
    await h.create("g")
    got = await receiver.wait_for(1)
    assert got[0].path == "/global/instance-create"
    rows = await _hooked_connect(h, "mine", f"http://127.0.0.1:{receiver.port + 1}/x")
    mine = [r for r in rows if r["scope"] == "instance"]
    assert mine and all(r["status"] == "dead" for r in mine)
    assert "refused" in mine[0]["lastError"]


def test_trusting_adds_one_origin_only() -> None:
    guarded = parse_allowed("")
    trusted = guarded.trusting("https://hooks.internal/all")
    assert trusted.origins == {("hooks.internal", 443)} and guarded.origins == frozenset()
    assert OPEN.trusting("http://x") is OPEN and guarded.trusting(None) is guarded
