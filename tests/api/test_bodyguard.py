"""Deeply nested JSON is refused before parsing; ordinary bodies pass through unchanged."""

from __future__ import annotations

from tests.conftest import Harness
from wagate.api.bodyguard import MAX_DEPTH, too_deep


def test_depth_measure_skips_strings() -> None:
    assert not too_deep(b'{"a": "' + b"[" * 500 + b'"}')
    assert not too_deep(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    assert too_deep(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert too_deep(b'{"a": ' + b'{"b": ' * 100 + b"1" + b"}" * 101)
    assert not too_deep(b"[" + b'{"x": [1]}, ' * 1000 + b"{}]")  # wide, not deep


async def test_deep_body_is_400_and_the_server_keeps_working(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    deep = b'{"instanceName": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    r = await h.client.post(
        "/instance/create", content=deep, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["response"]["message"] == [
        f"The JSON body is nested more than {MAX_DEPTH} levels"
    ]
    created = await h.create("after-deep")  # a normal body still parses and works
    assert created["instance"]["instanceName"] == "after-deep"
    compile("x = [1]", "<check>", "exec")  # the interpreter can still compile code
