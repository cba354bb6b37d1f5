"""Webhook URLs and headers are checked where they are given: webhook/set and create's webhook
block answer 400 naming the field, the env names that hold a target refuse start-up naming the
variable; nothing refused is stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness
from wagate.config import SettingsError, load_settings
from wagate.domain.endpoints import MAX_HEADER_BYTES, MAX_HEADERS, MAX_URL_LENGTH

BAD_URLS = [
    ("file:///etc/passwd", "webhook.url must be an http:// or https:// URL, not file://"),
    ("gopher://h/x", "not gopher://"),
    ("not a url", "whitespace"),
    ("", "webhook.url is empty"),
    ("http://", "webhook.url has no host"),
    ("http://h:99999/", "not a valid URL"),
    ("//h/x", "not no scheme"),
    ("http://h/a\nb", "control character"),
    ("http://h/" + "a" * (5 * 1024 * 1024), f"the limit is {MAX_URL_LENGTH}"),
]
BAD_HEADERS: list[tuple[dict[str, Any], str]] = [
    ({f"h{i}": "v" for i in range(5000)}, f"the limit is {MAX_HEADERS}"),
    ({f"h{i}": "v" * 1024 for i in range(MAX_HEADERS)}, f"larger than {MAX_HEADER_BYTES} bytes"),
    ({"bad name": "v"}, '"bad name" is not a valid header name'),
    ({"": "v"}, "is not a valid header name"),
    ({"x-a": "1\r\nHost: evil"}, "webhook.headers.x-a contains CR, LF or NUL"),
    ({"x-a": {"nested": 1}}, "webhook.headers.x-a must be a string, number or boolean"),
    ({"x-a": [1]}, "must be a string, number or boolean"),
]


def _messages(r: Any) -> str:
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    assert set(body) == {"status", "error", "response"} and body["status"] == 400
    return str(body["response"]["message"])


@pytest.mark.parametrize(("url", "said"), BAD_URLS, ids=[u[:20] for u, _ in BAD_URLS])
async def test_webhook_set_refuses_bad_urls(sqlite_harness: Harness, url: str, said: str) -> None:
    h = sqlite_harness
    await h.create("hook")
    hook = {"enabled": True, "url": url, "events": []}
    r = await h.client.post("/webhook/set/hook", json={"webhook": hook})
    assert said in _messages(r)
    assert (await h.client.get("/webhook/find/hook")).json() is None


@pytest.mark.parametrize(("url", "said"), BAD_URLS[:5], ids=[u[:20] for u, _ in BAD_URLS[:5]])
async def test_create_refuses_bad_webhook_urls(
    sqlite_harness: Harness, url: str, said: str
) -> None:
    h = sqlite_harness
    body = {
        "instanceName": "made",
        "integration": "WHATSAPP-BAILEYS",
        "webhook": {"url": url, "events": []},
    }
    r = await h.client.post("/instance/create", json=body)
    assert said in _messages(r)
    r = await h.client.get("/instance/fetchInstances", params={"instanceName": "made"})
    assert r.status_code == 404, "a refused create leaves no instance"


@pytest.mark.parametrize(("headers", "said"), BAD_HEADERS, ids=[s[:24] for _, s in BAD_HEADERS])
async def test_webhook_headers_are_capped_on_both_routes(
    sqlite_harness: Harness, headers: dict[str, Any], said: str
) -> None:
    h = sqlite_harness
    await h.create("hdr")
    hook = {"enabled": True, "url": "http://receiver:8080/x", "events": [], "headers": headers}
    assert said in _messages(await h.client.post("/webhook/set/hdr", json={"webhook": hook}))
    assert (await h.client.get("/webhook/find/hdr")).json() is None
    body = {"instanceName": "hdr2", "integration": "WHATSAPP-BAILEYS", "webhook": hook}
    assert said in _messages(await h.client.post("/instance/create", json=body))


async def test_good_urls_and_headers_pass(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("ok")
    headers = {"Authorization": "Bearer x", "jwt_key": "s3cret", "x-n": 5, "x-off": None}
    for url in ("http://receiver:8080/hook", "https://example.org/a?b=c", "HTTP://[::1]:9/x"):
        hook: dict[str, Any] = {"enabled": True, "url": url, "events": [], "headers": headers}
        r = await h.client.post("/webhook/set/ok", json={"webhook": hook})
        assert r.status_code == 201, r.text
        assert r.json()["url"] == url
    # a disabled webhook may be cleared with an empty URL (nothing is ever sent to it)
    r = await h.client.post(
        "/webhook/set/ok", json={"webhook": {"enabled": False, "url": "", "events": []}}
    )
    assert r.status_code == 201 and r.json()["url"] == ""
    # but a disabled one with a URL still gets it checked
    r = await h.client.post(
        "/webhook/set/ok", json={"webhook": {"enabled": False, "url": "ftp://h", "events": []}}
    )
    assert "not ftp://" in _messages(r)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("WEBHOOK_GLOBAL_URL", "file:///etc/passwd", "http:// or https://"),
        ("WEBHOOK_GLOBAL_URL", "not a url", "whitespace"),
        ("WEBHOOK_GLOBAL_URL", "http://h/" + "a" * MAX_URL_LENGTH, "the limit is"),
        ("API_AUDIO_CONVERTER", "gopher://h", "http:// or https://"),
        ("RABBITMQ_URI", "http://127.0.0.1:5672", "amqp:// or amqps://"),
        ("RABBITMQ_URI", "amqp://", "has no host"),
        ("NATS_URI", "amqp://127.0.0.1:4222", "nats:// or tls://"),
    ],
)
def test_env_targets_refuse_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"Invalid setting {name}=") as caught:
        load_settings()
    assert said in str(caught.value)
    if name in ("RABBITMQ_URI", "NATS_URI"):
        assert value not in str(caught.value), "a URI that may carry a password is not shown"


def test_env_targets_that_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_GLOBAL_URL", "http://receiver:9000/all")
    monkeypatch.setenv("RABBITMQ_URI", "amqps://u:p@mq.internal:5671/vh")
    monkeypatch.setenv("NATS_URI", "nats://127.0.0.1:4222")
    s = load_settings()
    assert (s.webhook_global_url, s.rabbitmq_uri, s.nats_uri) == (
        "http://receiver:9000/all",
        "amqps://u:p@mq.internal:5671/vh",
        "nats://127.0.0.1:4222",
    )
    monkeypatch.setenv("WEBHOOK_GLOBAL_URL", " ")
    assert load_settings().webhook_global_url is None
