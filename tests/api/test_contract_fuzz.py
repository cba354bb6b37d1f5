"""Fuzzing every route of the OpenAPI document with arbitrary requests (Hypothesis, in process).

Whatever the body (any JSON value, objects with the routes' own field names and wrong-typed
values, bytes that are not JSON), key, path name or query, wagate never answers 5xx and every
error is Evolution's envelope with the response's own status. Derandomized, so a run is
repeatable; the examples drawn walk every route over the run.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.contract import is_envelope
from tests.conftest import API_KEY, Harness, make_settings, start_harness, stop_harness

NAME = "fz"
# Field names the routes read, so that objects often carry the right keys with wrong values.
FIELDS = [
    "instanceName", "integration", "token", "number", "businessId", "qrcode", "rejectCall",
    "msgCall", "groupsIgnore", "alwaysOnline", "readMessages", "readStatus", "syncFullHistory",
    "wavoipToken", "webhook", "websocket", "rabbitmq", "nats", "sqs", "url", "events", "enabled",
    "headers", "byEvents", "base64", "presence", "up", "code", "logoutFails", "proxyHost",
    "proxyPort", "proxyProtocol", "chatwootAccountId", "chatwootToken", "chatwootUrl",
]  # fmt: skip
VALID = {
    "integration": "WHATSAPP-BAILEYS",
    "presence": "available",
    "events": [],
    "url": "http://127.0.0.1:9/hook",
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(list(VALID.values()) + ["5511999990001", "", "fz", "x" * 120])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_objects = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=8
)
bodies = (
    st.none().map(lambda _: None)
    | json_values.map(lambda v: json.dumps(v).encode())
    | field_objects.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=40)
    | st.sampled_from([b"{", b'{"a":', b"[" * 3000, b'"\\ud800"', b'{"instanceName":"\\u0000"}'])
)
path_names = st.sampled_from([NAME, NAME, "nope"]) | st.text(min_size=1, max_size=12)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
queries = st.dictionaries(
    st.sampled_from(["number", "instanceName", "instanceId", "apikey"]) | st.text(max_size=6),
    st.text(max_size=24),
    max_size=3,
)


@pytest.fixture
async def fuzz_app(tmp_path: Path) -> AsyncIterator[Harness]:
    """One app for the whole run (Hypothesis reuses it across examples)."""
    h, ctx = await start_harness(make_settings(tmp_path, connect_wait=0.05))
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


def _routes(h: Harness) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document; the destructive ones last."""
    paths = h.app.openapi()["paths"]
    ops = [(method.upper(), path) for path, item in paths.items() for method in item]
    return sorted(ops, key=lambda op: (op[0] == "DELETE", op[1], op[0]))


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_no_route_answers_5xx_and_errors_are_enveloped(
    fuzz_app: Harness, data: st.DataObject
) -> None:
    """One drawn request shape (name, key, body, query, maybe a wrong method) sent to every
    route, so that every run reaches every route."""
    h = fuzz_app
    if NAME not in h.gateway.instances:  # a fuzzed delete removed it
        r = await h.client.post("/instance/create", json={"instanceName": NAME, **VALID})
        h.__dict__["token"] = r.json()["hash"]
    name = quote(data.draw(path_names, label="name"), safe="")
    key = data.draw(
        st.sampled_from([API_KEY, API_KEY, h.__dict__.get("token"), None]) | header_text,
        label="apikey",
    )
    body = data.draw(bodies, label="body")
    query = data.draw(queries, label="query")
    other_method = data.draw(st.sampled_from([None] * 6 + ["GET", "POST", "PUT", "PATCH"]))
    headers = {"content-type": "application/json"} if body is not None else {}
    if key is not None:
        headers["apikey"] = key
    routes = _routes(h)
    assert len(routes) >= 18
    for method, template in routes:
        path = template.replace("{instanceName}", name).replace("{instance}", name)
        r = await h.client.request(
            other_method or method, path, content=body, params=query, headers=headers
        )
        assert r.status_code < 500, (method, path, body, r.text)
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/json"), path
            assert is_envelope(r.json(), r.status_code), (path, r.text)
