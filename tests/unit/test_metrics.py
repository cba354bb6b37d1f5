"""/metrics, parsed with Prometheus' own text parser, moves as a sim instance changes state."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import API_KEY, Harness, make_settings, start_harness, stop_harness
from wagate.observability import metrics

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(h: Harness, **headers: str) -> Samples:
    r = await h.client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def get(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def fast(tmp_path: Path) -> AsyncIterator[Harness]:
    """SQLite, real clock, reconnects after 50 ms."""
    settings = make_settings(
        tmp_path, reconnect_initial=0.05, reconnect_jitter=0.0, metrics_instance_names=True
    )
    h, ctx = await start_harness(settings)
    try:
        yield h
    finally:
        # The events dispatcher (events/dispatcher.py `_sleep`) can swallow a cancel that lands
        # as it is woken (Python 3.11 asyncio.wait_for), hanging the stop; let it settle first.
        await asyncio.sleep(0.2)
        await stop_harness(h, ctx)


async def wait_state(h: Harness, name: str, lifecycle: str) -> None:
    sup = h.gateway.get(name).supervisor
    for _ in range(100):
        if sup.inst.state.value == lifecycle:
            await sup.wait_quiescent()  # its effects (the persisted write) are done too
            return
        await sup.wait_changed(0.05)
    raise AssertionError(f"{name} stayed {sup.inst.state.value}, wanted {lifecycle}")


async def test_figures_follow_the_lifecycle(fast: Harness) -> None:
    c = fast.client
    before = await scrape(fast)
    assert get(before, "wagate_instances", state="open") == 0
    await fast.create("m1")
    s = await scrape(fast)
    assert get(s, "wagate_instances", state="close") == 1
    assert get(s, "wagate_instances_lifecycle", state="idle") == 1
    assert get(s, "evolution_instances_total") == 1

    await c.get("/instance/connect/m1")
    s = await scrape(fast)
    assert get(s, "wagate_instances", state="connecting") == 1
    assert get(s, "wagate_instances_lifecycle", state="awaiting_pairing") == 1

    await c.post("/sim/m1/scan", json={"number": "5511999990001"})
    s = await scrape(fast)
    assert get(s, "wagate_instances", state="open") == 1
    assert get(s, "wagate_instances", state="connecting") == 0
    assert get(s, "evolution_instance_up", instance="m1", integration="WHATSAPP-BAILEYS") == 1
    assert get(s, "wagate_connects_total") == get(before, "wagate_connects_total") + 1

    # The server drops the connection: a close with its code, a backoff reconnect, open again.
    await c.post("/sim/m1/disconnect", json={"code": 428})
    await wait_state(fast, "m1", "open")
    s2 = await scrape(fast)
    assert (
        get(s2, "wagate_closes_total", code="428") == get(s, "wagate_closes_total", code="428") + 1
    )
    assert get(s2, "wagate_reconnects_total") == get(s, "wagate_reconnects_total") + 1
    assert get(s2, "wagate_connects_total") == get(s, "wagate_connects_total") + 1

    await c.delete("/instance/logout/m1")
    s3 = await scrape(fast)
    assert (
        get(s3, "wagate_closes_total", code="401")
        == get(s2, "wagate_closes_total", code="401") + 1
    )
    assert get(s3, "wagate_instances", state="close") == 1
    assert get(s3, "wagate_instances_lifecycle", state="logged_out") == 1

    await c.delete("/instance/delete/m1")
    s4 = await scrape(fast)
    assert get(s4, "evolution_instances_total") == 0
    assert sum(get(s4, "wagate_instances", state=x) for x in ("open", "connecting", "close")) == 0
    produced = get(s4, "wagate_events_produced_total", event="connection.update")
    assert produced - get(before, "wagate_events_produced_total", event="connection.update") >= 5
    assert get(s4, "wagate_events_produced_total", event="instance.delete") >= 1


async def test_http_requests_are_labelled_by_route_template(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("t1")
    before = await scrape(h)
    for _ in range(3):
        assert (await h.client.get("/instance/connectionState/t1")).status_code == 200
    assert (await h.client.get("/instance/connectionState/nope")).status_code == 404
    assert (await h.client.get("/no/such/route")).status_code == 404
    s = await scrape(h)
    route = "/instance/connectionState/{instanceName}"
    ok = get(s, "wagate_http_requests_total", route=route, method="GET", status="200")
    assert (
        ok - get(before, "wagate_http_requests_total", route=route, method="GET", status="200")
        == 3
    )
    assert get(s, "wagate_http_requests_total", route=route, method="GET", status="404") >= 1
    assert (
        get(s, "wagate_http_requests_total", route="<unmatched>", method="GET", status="404") >= 1
    )
    assert get(s, "wagate_http_request_duration_seconds_count", route=route) >= 4
    raw = [name for name, labels in s if any(v.endswith("/t1") for _, v in labels)]
    assert raw == [], "a raw path leaked into a label"


def test_delivery_counters_for_the_sinks() -> None:
    sink = "test-sink"
    before = metrics.EVENTS_DELIVERED.labels(sink)._value.get()
    metrics.delivery_succeeded(sink, 0.2)
    metrics.delivery_retrying(sink)
    metrics.delivery_failed(sink)
    metrics.delivery_succeeded(sink, -1.0)  # a clock step back never observes a negative time
    assert metrics.EVENTS_DELIVERED.labels(sink)._value.get() == before + 2
    assert metrics.EVENTS_RETRYING.labels(sink)._value.get() >= 1
    assert metrics.EVENTS_FAILED.labels(sink)._value.get() >= 1
    samples = {
        (s.name, s.labels.get("le")): s.value
        for fam in text_string_to_metric_families(_render())
        for s in fam.samples
        if s.labels.get("sink") == sink
    }
    assert samples[("wagate_event_delivery_seconds_bucket", "0.25")] >= 1
    assert samples[("wagate_event_delivery_seconds_bucket", "0.005")] >= 1  # the clamped one


def _render() -> str:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(metrics.DELIVERY_SECONDS)
    return generate_latest(registry).decode()


async def test_metrics_basic_auth(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, metrics_auth_required=True, metrics_user="prom", metrics_password="s3cret-pw"
    )
    h, ctx = await start_harness(settings)
    try:
        assert (await h.client.get("/metrics")).status_code == 401
        bad = base64.b64encode(b"prom:wrong").decode()
        r = await h.client.get("/metrics", headers={"authorization": f"Basic {bad}"})
        assert r.status_code == 401
        assert r.json()["response"]["message"] == "Unauthorized"
        r = await h.client.get("/metrics", headers={"authorization": "Basic %%%"})
        assert r.status_code == 401
        good = base64.b64encode(b"prom:s3cret-pw").decode()
        s = await scrape(h, authorization=f"Basic {good}")
        assert ("evolution_instances_total", ()) in s
    finally:
        await stop_harness(h, ctx)


async def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    h, ctx = await start_harness(make_settings(tmp_path, prometheus_metrics=False))
    try:
        r = await h.client.get("/metrics")
        assert r.status_code == 404
        assert r.json()["error"] == "Not Found"
    finally:
        await stop_harness(h, ctx)


def test_auth_required_without_credentials_refuses_to_start(tmp_path: Path) -> None:
    from wagate.config import SettingsError

    with pytest.raises(SettingsError, match="METRICS_AUTH_REQUIRED"):
        make_settings(tmp_path, metrics_auth_required=True, metrics_user="prom")


async def _get_from(h: Harness, host: str, **headers: str) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=h.app, client=(host, 40000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://wagate.test") as c:
        return await c.get("/metrics", headers=headers)


async def test_metrics_allowed_ips(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        metrics_allowed_ips=" 10.0.0.0/8, 192.168.1.50 ,::1",
        metrics_auth_required=True,
        metrics_user="prom",
        metrics_password="s3cret-pw",
    )
    h, ctx = await start_harness(settings)
    good = "Basic " + base64.b64encode(b"prom:s3cret-pw").decode()
    try:
        for host in ("10.1.2.3", "192.168.1.50", "::1", "::ffff:10.9.9.9"):
            r = await _get_from(h, host, authorization=good)
            assert r.status_code == 200, (host, r.text)
            assert "evolution_instances_total" in r.text
        for host in ("127.0.0.1", "192.168.1.51", "11.0.0.1", "::2", "testclient"):
            r = await _get_from(h, host, authorization=good)
            assert r.status_code == 403, host
            assert r.json() == {
                "status": 403,
                "error": "Forbidden",
                "response": {"message": ["Forbidden: IP not allowed"]},
            }
        # the address is checked before the credentials (Evolution's order)
        assert (await _get_from(h, "11.0.0.1")).status_code == 403
        assert (await _get_from(h, "10.0.0.1")).status_code == 401
    finally:
        await stop_harness(h, ctx)


@pytest.mark.parametrize("value", ["10.0.0.300", "10.0.0.0/33", "localhost", " , "])
def test_bad_allowed_ips_refuse_to_start(tmp_path: Path, value: str) -> None:
    from wagate.config import SettingsError

    with pytest.raises(SettingsError, match="METRICS_ALLOWED_IPS"):
        make_settings(tmp_path, metrics_allowed_ips=value)


def test_blank_allowed_ips_is_no_list(tmp_path: Path) -> None:
    assert make_settings(tmp_path, metrics_allowed_ips="").metrics_networks is None
    assert make_settings(tmp_path).metrics_networks is None


async def test_metrics_need_the_global_key_and_hide_names_by_default(tmp_path: Path) -> None:
    h, ctx = await start_harness(make_settings(tmp_path))
    try:
        await h.create("secret-name")
        for headers in ({"apikey": ""}, {"apikey": "wrong-key-0123456789"}):
            r = await h.client.get("/metrics", headers=headers)
            assert r.status_code == 401 and r.json()["status"] == 401
        assert (await _get_from(h, "10.0.0.1")).status_code == 401
        assert (await _get_from(h, "10.0.0.1", authorization="Bearer x")).status_code == 401
        r = await _get_from(h, "10.0.0.1", authorization=f"Bearer {API_KEY}")
        assert r.status_code == 200
        assert "secret-name" not in r.text
        assert "evolution_instances_total 1.0" in r.text
        assert "evolution_instance_up" not in r.text
        s = await scrape(h)  # the harness sends the global key as apikey
        assert get(s, "evolution_instances_total") == 1
    finally:
        await stop_harness(h, ctx)


async def test_metrics_public_and_with_names_when_asked(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics_public=True, metrics_instance_names=True)
    h, ctx = await start_harness(settings)
    try:
        await h.create("shown")
        r = await _get_from(h, "10.0.0.1")
        assert r.status_code == 200 and 'instance="shown"' in r.text
    finally:
        await stop_harness(h, ctx)
