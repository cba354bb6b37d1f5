"""connectionState's fast path (api/hotpath.py) answers its success case exactly as the route
does, and leaves every other request, error answers included, to the route."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.conftest import API_KEY, Harness
from wagate.api.hotpath import ConnectionStateFastPath


def _fast_path(app: Any) -> ConnectionStateFastPath:
    layer = app.middleware_stack
    while not isinstance(layer, ConnectionStateFastPath):
        layer = layer.app
    return layer


Headers = list[tuple[str, str]]


async def test_answers_as_the_route_does(
    sqlite_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = sqlite_harness
    alpha = (await h.create("alpha"))["hash"]
    beta = (await h.create("beta"))["hash"]
    await h.create("a b é")
    await h.client.get("/instance/connect/beta")  # a lifecycle with more in it
    fast = _fast_path(h.app)
    answered: list[bool] = []
    answer = fast._answer

    def spy(scope: Any, name: str) -> Any:
        response = answer(scope, name)
        answered.append(response is not None)
        return response

    monkeypatch.setattr(fast, "_answer", spy)

    async def route_only(scope: Any, receive: Any, send: Any) -> None:
        scope["app"] = h.app  # as the app itself does before its middleware
        await fast.app(scope, receive, send)

    route = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=route_only), base_url="http://wagate.test"
    )
    cases: list[tuple[str, str, Headers, bool | None]] = [
        ("GET", "/instance/connectionState/alpha", [("apikey", API_KEY)], True),
        ("GET", "/instance/connectionState/alpha", [("apikey", alpha)], True),
        ("GET", "/instance/connectionState/beta", [("apikey", beta)], True),
        ("GET", "/instance/connectionState/alpha?x=1", [("apikey", API_KEY)], True),
        ("GET", "/instance/connectionState/a%20b%20%C3%A9", [("apikey", API_KEY)], True),
        ("GET", "/instance/connectionState/alpha", [("apikey", alpha), ("apikey", "x")], True),
        ("GET", "/instance/connectionState/alpha", [("apikey", "x"), ("apikey", alpha)], False),
        ("GET", "/instance/connectionState/alpha", [("apikey", beta)], False),
        ("GET", "/instance/connectionState/alpha", [("apikey", "wrong-key-0123456789")], False),
        ("GET", "/instance/connectionState/alpha", [("apikey", "")], False),
        ("GET", "/instance/connectionState/alpha", [], False),
        ("GET", "/instance/connectionState/nobody", [("apikey", API_KEY)], False),
        ("GET", "/instance/connectionState/alpha/", [("apikey", API_KEY)], False),
        ("GET", "/instance/connectionState/", [("apikey", API_KEY)], False),
        ("HEAD", "/instance/connectionState/alpha", [("apikey", API_KEY)], None),
        ("POST", "/instance/connectionState/alpha", [("apikey", API_KEY)], None),
    ]
    try:
        for method, path, headers, fast_answers in cases:
            answered.clear()
            req = [httpx2.Request(method, f"http://wagate.test{path}", headers=headers)] * 2
            got = await h.client.send(req[0])
            want = await route.send(req[1])
            what = f"{method} {path} {headers}"
            assert (got.status_code, got.content) == (want.status_code, want.content), what
            assert got.headers.multi_items() == want.headers.multi_items(), what
            # which of the two answered: the fast path for the success case only
            assert answered == ([] if fast_answers is None else [fast_answers]), what
    finally:
        await route.aclose()
