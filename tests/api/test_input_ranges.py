"""Every number and date a route takes, in a body or a query, at its extremes: never a 500, and a
value outside the field's range is a 400 naming the field. Driven from the OpenAPI schema, so a
new route's fields are covered without a line here."""

from __future__ import annotations

import copy
from typing import Any

import httpx2

from tests.conftest import API_KEY, Harness

NAME = "ranges"
DATE_FIELDS = {"since", "gte", "lte", "messageTimestamp"}
"""String fields that are times (the schema types them as strings)."""
HUGE = 10**26
INTS = [-HUGE, -1, 0, 2**31, 2**63, 2**64, HUGE]
NUMBERS = [-1e308, -1.5, 0.0, 1e308, float(HUGE)]
DATES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "-" + "9" * 26,
    "1e400",
]
SLOW = {"delay"}
"""Fields whose largest legal value makes the call wait (a send's delay): not sent at max."""


class Spec:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.schemas = spec.get("components", {}).get("schemas", {})

    def resolve(self, s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            s = self.schemas[s["$ref"].rsplit("/", 1)[-1]]
        return s

    def options(self, s: dict[str, Any]) -> list[dict[str, Any]]:
        s = self.resolve(s)
        for key in ("anyOf", "oneOf", "allOf"):
            if key in s:
                return [o for sub in s[key] for o in self.options(sub)]
        return [s]

    def example(self, s: dict[str, Any]) -> Any:
        """A small value the schema accepts (required members only)."""
        opts = [o for o in self.options(s) if o.get("type") != "null"] or [{}]
        o = opts[0]
        if "enum" in o:
            return o["enum"][0]
        if "const" in o:
            return o["const"]
        kind = o.get("type")
        if kind == "object" or "properties" in o:
            props = o.get("properties", {})
            return {k: self.example(props[k]) for k in o.get("required", []) if k in props}
        if kind == "array":
            return [self.example(o.get("items", {})) for _ in range(max(1, o.get("minItems", 1)))]
        if kind == "integer":
            return int(o.get("minimum", 1))
        if kind == "number":
            return float(o.get("minimum", 1.0))
        if kind == "boolean":
            return False
        return "5511999990001"

    def fields(
        self, s: dict[str, Any], path: tuple[str, ...]
    ) -> list[tuple[tuple[str, ...], dict[str, Any], str]]:
        """(path, schema, kind) of every number or date under `s`; kind is int, number, date."""
        out: list[tuple[tuple[str, ...], dict[str, Any], str]] = []
        for o in self.options(s):
            kind = o.get("type")
            if kind in ("integer", "number"):
                out.append((path, o, "int" if kind == "integer" else "number"))
            elif kind == "string" and path and path[-1] in DATE_FIELDS:
                out.append((path, o, "date"))
            for name, sub in o.get("properties", {}).items():
                out += self.fields(sub, (*path, name))
            if kind == "array":
                out += self.fields(o.get("items", {}), (*path, "[]"))
        return out


def _set(body: Any, spec: Spec, schema: dict[str, Any], path: tuple[str, ...], value: Any) -> Any:
    """`body` with `value` at `path`, building the containers on the way from the schema."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    opts = [
        o for o in spec.options(schema) if o.get("type") not in ("null", None) or "properties" in o
    ]
    if head == "[]":
        arr = next(o for o in opts if o.get("type") == "array")
        items = arr.get("items", {})
        body = body if isinstance(body, list) and body else [spec.example(items)]
        body[0] = _set(body[0], spec, items, rest, value)
        return body
    obj = next(o for o in opts if head in o.get("properties", {}))
    body = body if isinstance(body, dict) else {}
    body[head] = _set(body.get(head), spec, obj["properties"][head], rest, value)
    return body


def _values(kind: str, schema: dict[str, Any], name: str) -> list[tuple[Any, bool]]:
    """(value, outside the declared range) pairs to try."""
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if kind == "date":
        return [(v, False) for v in DATES]
    base: list[Any] = INTS if kind == "int" else NUMBERS
    cast = int if kind == "int" else float
    edges: list[Any] = []
    if lo is not None:
        edges += [cast(lo) - 1, cast(lo)]
    if hi is not None:
        edges += [cast(hi) + 1] + ([] if name in SLOW else [cast(hi)])
    out = []
    for v in [*base, *edges]:
        outside = (lo is not None and v < lo) or (hi is not None and v > hi)
        if name in SLOW and not outside and v > 1000:
            continue
        out.append((v, outside))
    return out


async def _open(h: Harness) -> None:
    await h.create(NAME)
    await h.client.get(f"/instance/connect/{NAME}")
    r = await h.client.post(f"/sim/{NAME}/scan", json={"number": "5511999990009"})
    assert r.status_code == 200, r.text


async def test_every_number_and_date_at_its_extremes(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await _open(h)
    # A server error is an answer to count here, not an exception out of the client.
    transport = httpx2.ASGITransport(app=h.app, raise_app_exceptions=False)
    client = httpx2.AsyncClient(
        transport=transport, base_url="http://wagate.test", headers={"apikey": API_KEY}
    )
    spec = Spec((await client.get("/openapi.json")).json())
    tried = 0
    failures: list[str] = []
    for template, ops in spec.spec["paths"].items():
        path = template.replace("{instanceName}", NAME).replace("{instance}", NAME)
        for method, op in ops.items():
            body_schema = (
                op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ).get("schema")
            base = spec.example(body_schema) if body_schema else None
            targets: list[tuple[str, tuple[str, ...], dict[str, Any], str]] = []
            if body_schema:
                targets += [("body", *f) for f in spec.fields(body_schema, ())]
            for prm in op.get("parameters", []):
                if prm["in"] == "query":
                    targets += [
                        ("query", (prm["name"], *p), s, k)
                        for p, s, k in spec.fields(prm.get("schema", {}), ())
                    ]
            for where, fpath, fschema, kind in targets:
                name = (
                    fpath[0] if where == "query" else fpath[-1] if fpath[-1] != "[]" else fpath[-2]
                )
                for value, outside in _values(kind, fschema, name):
                    tried += 1
                    if where == "body":
                        body = _set(copy.deepcopy(base), spec, body_schema, fpath, value)
                        r = await client.request(method.upper(), path, json=body)
                    else:
                        r = await client.request(
                            method.upper(), path, params={fpath[0]: str(value)}
                        )
                    what = f"{method.upper()} {template} {'.'.join(fpath)}={value!r}"
                    if r.status_code >= 500 and r.status_code not in (501, 503):
                        failures.append(f"{what}: {r.status_code} {r.text[:200]}")
                    elif outside and r.status_code != 400:
                        failures.append(f"{what}: out of range but {r.status_code}")
                    elif r.status_code == 400 and outside and name not in r.text:
                        failures.append(f"{what}: the 400 does not name {name}: {r.text[:200]}")
    await client.aclose()
    assert tried > 100
    assert failures == [], "\n".join(failures)


async def test_the_redeliver_since_extremes(sqlite_harness: Harness) -> None:
    """The measured 500: `since` whose UTC time is before the year 1."""
    h = sqlite_harness
    await h.create(NAME)
    r = await h.client.post(
        f"/events/redeliver/{NAME}", json={"since": "0001-01-01T00:00:00+01:00"}
    )
    assert r.status_code == 400
    assert r.json()["response"]["message"] == [
        'since "0001-01-01T00:00:00+01:00" is out of range: from 0001-01-01 to 9999-12-31 UTC'
    ]
    for since in ("0001-01-01T00:00:00Z", "1900-01-01", "9999-12-31T23:59:59Z"):
        r = await h.client.post(f"/events/redeliver/{NAME}", json={"since": since})
        assert r.status_code == 200, (since, r.text)


async def test_find_messages_timestamp_extremes(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create(NAME)
    for bound in ("gte", "lte"):
        for value in (-(10**26), 10**26, -1):
            r = await h.client.post(
                f"/chat/findMessages/{NAME}",
                json={"where": {"messageTimestamp": {bound: value}}},
            )
            assert r.status_code == 400, r.text
            assert r.json()["response"]["message"] == [
                f"where.messageTimestamp.{bound} is out of range: seconds or milliseconds "
                "since 1970, from 0 to 253402300799999"
            ]
        for accepted in (0, 253402300799999, "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
            r = await h.client.post(
                f"/chat/findMessages/{NAME}",
                json={"where": {"messageTimestamp": {bound: accepted}}},
            )
            assert r.status_code == 200, r.text
