"""Evolution's recorded exchanges (reference/evolution-fixtures) and how to hold wagate to them.

A fixture is one request/response pair recorded from Evolution API 2.3.7. `request_of` turns it
into a request for wagate (placeholders such as <global-key>, <instance-token> and <uuid>
resolved to this run's values); `compare` checks an answer against the recorded one: status,
then the body's keys and value types everywhere, and its values wherever they are not volatile
(placeholders stand for a format: <uuid>, <token>, <iso-date>, <cuid>). Differences wagate makes
on purpose are passed in as {JSONPath glob: reason}, so every exception names its reason.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "evolution"  # instance/settings/auth/root files

# wagate's additive keys (README "Where wagate deliberately differs"): never in Evolution's bodies.
ADDITIVE = {"lifecycle": "the additive lifecycle block", "wagate": "wagate's own version block"}

PLACEHOLDER_FORMATS = {
    "<uuid>": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"),
    "<token>": re.compile(
        r"^(?:[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12})$"
    ),
    "<iso-date>": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),
    "<cuid>": re.compile(r"^c[0-9a-z]{24}$"),
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def names(*prefixes: str) -> list[str]:
    """The HTTP fixtures whose file names start with one of the prefixes."""
    return sorted(
        p.stem for p in FIXTURES.glob("*.json") if any(p.stem.startswith(x) for x in prefixes)
    )


@dataclass
class Values:
    """This run's values for the placeholders of a recorded request."""

    global_key: str
    token: str | None = None
    uuid: str | None = None
    upper_uuid: str | None = None

    def resolve(self, text: str) -> str:
        out = text.replace("<global-key>", self.global_key)
        if self.token is not None:
            out = out.replace("<instance-token>", self.token)
        if self.uuid is not None:
            out = out.replace("<uuid>", self.uuid)
        if self.upper_uuid is not None:
            out = out.replace("<token>", self.upper_uuid).replace("<uuid-upper>", self.upper_uuid)
        return out


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    content: bytes | None


def request_of(fx: dict[str, Any], values: Values) -> Request:
    req = fx["request"]
    headers = {k: values.resolve(v) for k, v in req["headers"].items()}
    params = {k: values.resolve(v) for k, v in (req.get("query") or {}).items()}
    body = req["body"]
    content: bytes | None
    if body is None:
        content = None
    elif isinstance(body, str) and "content-type" in headers:
        content = body.encode()  # the malformed-JSON case records the raw text
    else:
        content = json.dumps(body).encode()
    return Request(req["method"], values.resolve(req["path"]), params, headers, content)


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    excused: list[str] = field(default_factory=list)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _excuse(path: str, differs: dict[str, str]) -> str | None:
    for pattern, reason in differs.items():
        if fnmatch.fnmatchcase(path, pattern):
            return reason
    return None


def compare(
    expected: Any,
    actual: Any,
    differs: dict[str, str] | None = None,
    path: str = "$",
    verdict: Verdict | None = None,
) -> Verdict:
    """Keys, value types and non-volatile values of `actual` against Evolution's `expected`."""
    differs = differs or {}
    verdict = verdict if verdict is not None else Verdict()
    reason = _excuse(path, differs)
    if reason is not None:
        verdict.excused.append(f"{path}: {reason}")
        return verdict
    if isinstance(expected, str) and expected in PLACEHOLDER_FORMATS:
        if not isinstance(actual, str) or not PLACEHOLDER_FORMATS[expected].match(actual):
            verdict.problems.append(f"{path}: {actual!r} is not a {expected}")
        return verdict
    if _kind(expected) != _kind(actual):
        verdict.problems.append(
            f"{path}: {_kind(actual)} {actual!r:.80} where Evolution has {_kind(expected)} "
            f"{expected!r:.80}"
        )
        return verdict
    if isinstance(expected, dict):
        for key in expected:
            sub = f"{path}.{key}"
            if key not in actual:
                excuse = _excuse(sub, differs)
                if excuse is None:
                    verdict.problems.append(f"{sub}: missing")
                else:
                    verdict.excused.append(f"{sub}: {excuse}")
                continue
            compare(expected[key], actual[key], differs, sub, verdict)
        for key in actual:
            if key in expected:
                continue
            sub = f"{path}.{key}"
            excuse = ADDITIVE.get(key) or _excuse(sub, differs)
            if excuse is None:
                verdict.problems.append(f"{sub}: not in Evolution's answer")
            else:
                verdict.excused.append(f"{sub}: {excuse}")
        return verdict
    if isinstance(expected, list):
        if len(expected) != len(actual):
            verdict.problems.append(
                f"{path}: {len(actual)} items where Evolution has {len(expected)}"
            )
            return verdict
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            compare(e, a, differs, f"{path}[{i}]", verdict)
        return verdict
    if expected != actual:
        verdict.problems.append(f"{path}: {actual!r} where Evolution has {expected!r}")
    return verdict


def rows_by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """fetchInstances lists have no stable order in Evolution: compare them keyed by name."""
    return {row["name"]: row for row in rows}


def is_envelope(body: Any, status: int) -> bool:
    """Evolution's error envelope: {status, error, response: {message: string | array}}."""
    return (
        isinstance(body, dict)
        and set(body) == {"status", "error", "response"}
        and body["status"] == status
        and isinstance(body["error"], str)
        and isinstance(body["response"], dict)
        and set(body["response"]) == {"message"}
        and isinstance(body["response"]["message"], str | list)
    )
