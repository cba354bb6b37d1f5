"""/docs and the OpenAPI document: served with no CDN, every operation described with a body
the server accepts, the `apikey` scheme on every guarded route, and 400 (never 422) documented."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, make_settings, start_harness, stop_harness
from wagate.api.operations import OPERATIONS, PUBLIC

SCHEMA_WORDS = ("requires property", "is not of a type", "does not match", "is not one of enum")
DESTRUCTIVE = {
    "POST /sim/network",
    "POST /sim/{instance}/disconnect",
    "POST /sim/{instance}/scan",
    "POST /sim/{instance}/faults",
    "POST /instance/create",
}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Harness]:
    h, ctx = await start_harness(make_settings(tmp_path))
    try:
        yield h
    finally:
        await stop_harness(h, ctx)


async def _spec(h: Harness) -> dict[str, Any]:
    r = await h.client.get("/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    return spec


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (m.upper(), p, op) for p, methods in spec["paths"].items() for m, op in methods.items()
    ]


async def test_every_operation_is_described_secured_and_honest_about_errors(app: Harness) -> None:
    spec = await _spec(app)
    ops = _operations(spec)
    assert len(ops) > 80
    assert spec["components"]["securitySchemes"]["apikey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "apikey",
        "description": spec["components"]["securitySchemes"]["apikey"]["description"],
    }
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path, op in ops:
        key = f"{method} {path}"
        assert key in OPERATIONS, f"{key} has no entry in api/operations.py"
        assert op["summary"] and len(op["description"]) > 20, key
        assert "422" not in op["responses"], key
        if key in PUBLIC:
            assert op["security"] == [], key
        else:
            assert op["security"] == [{"apikey": []}], key
            assert op["responses"]["401"]["content"]["application/json"]["example"] == {
                "status": 401,
                "error": "Unauthorized",
                "response": {"message": "Unauthorized"},
            }
        if op.get("parameters") or op.get("requestBody"):
            assert "400" in op["responses"], key
        if "{instanceName}" in path:
            assert "404" in op["responses"], key
        if "requestBody" in op:
            assert "example" in op["requestBody"]["content"]["application/json"], key
    assert [t["name"] for t in spec["tags"]][:3] == ["instance", "message", "chat"]
    assert "403" in spec["paths"]["/instance/create"]["post"]["responses"]
    sent = spec["paths"]["/message/sendText/{instanceName}"]["post"]["responses"]["201"]
    shape = sent["content"]["application/json"]["schema"]
    assert shape["type"] == "object" and shape["properties"]["key"]["properties"]["fromMe"] == {
        "type": ["boolean", "null"]
    }
    chats = spec["paths"]["/chat/findChats/{instanceName}"]["post"]["responses"]["200"]
    assert chats["content"]["application/json"]["schema"]["type"] == "array"
    # no operation is left in an undocumented tag of its own
    named = {t["name"] for t in spec["tags"]}
    assert all(set(op["tags"]) <= named for _, _, op in ops)


async def test_the_documented_400_is_what_the_server_answers(app: Harness) -> None:
    await app.create("docs")
    r = await app.client.post("/message/sendText/docs", json={"text": "no number"})
    assert r.status_code == 400
    assert r.json()["response"]["message"] == [['instance requires property "number"']]
    r = await app.client.get("/instance/connectionState/docs", headers={"apikey": "wrong"})
    assert r.status_code == 401
    assert r.json() == {
        "status": 401,
        "error": "Unauthorized",
        "response": {"message": "Unauthorized"},
    }


async def test_every_example_body_is_accepted_by_its_route(app: Harness) -> None:
    """Each documented body, sent to an open instance, passes the route's validation."""
    await app.create("docs")
    assert (await app.client.get("/instance/connect/docs")).status_code == 200
    r = await app.client.post("/sim/docs/scan", json={"number": "5511900000001"})
    assert r.status_code == 200, r.text
    r = await app.client.post("/sim/contacts", json={"number": "5511999999999"})
    assert r.status_code == 200, r.text
    spec = await _spec(app)
    tried = 0
    for method, path, op in _operations(spec):
        key = f"{method} {path}"
        if "requestBody" not in op or key in DESTRUCTIVE:
            continue
        example = op["requestBody"]["content"]["application/json"]["example"]
        url = path.replace("{instanceName}", "docs").replace("{instance}", "docs")
        params = {"groupJid": "120363025246125486@g.us"} if path.startswith("/group/") else {}
        r = await app.client.request(method, url, json=example, params=params)
        tried += 1
        assert r.status_code not in (422, 500), (key, r.text)
        if r.status_code == 400:
            message = str(r.json()["response"]["message"])
            assert not any(w in message for w in SCHEMA_WORDS), (key, example, message)
    assert tried > 45


async def test_the_pages_and_their_assets_are_served_by_wagate(app: Harness) -> None:
    for page in ("/docs", "/redoc"):
        r = await app.client.get(page)
        assert r.status_code == 200
        assert "cdn" not in r.text.lower() and "https://" not in r.text.replace(
            "https://fastapi.tiangolo.com", ""
        ), r.text
    html = (await app.client.get("/docs")).text
    assert '"persistAuthorization": true' in html
    for asset, kind in (
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "css"),
        ("redoc.standalone.js", "javascript"),
    ):
        r = await app.client.get(f"/docs/assets/{asset}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert len(r.content) > 50_000
    assert (await app.client.get("/docs/assets/..%2Fcore.py")).status_code == 404
    assert (await app.client.get("/docs/assets/nothing.js")).status_code == 404
