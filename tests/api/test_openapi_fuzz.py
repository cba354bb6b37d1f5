"""Schemathesis over the whole OpenAPI document, against a real server (`python -m wagate serve`,
SQLite, the sim engine): every operation, every built-in check. Whatever the checks find is
counted; a server error (5xx other than 501/503, which name an engine's limit or an outage)
fails the test.

Path parameters name an existing, connected instance, so requests reach the routes' work and
not only the 404 of an unknown name (delete and logout keep the generated names, so the instance
stays for the others; when it goes anyway it is made again). A send's `delay` is kept short:
its legal maximum is five minutes of waiting, which says nothing more.

CI runs WAGATE_FUZZ_EXAMPLES (3) cases per operation, about half a minute;
bench/openapi_fuzz.py runs many more and prints the counts (WAGATE_FUZZ_REPORT).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok

from tests.integration.durability import Server

NAME = "fuzz"
EXAMPLES = int(os.environ.get("WAGATE_FUZZ_EXAMPLES", "3"))
REPORT = os.environ.get("WAGATE_FUZZ_REPORT")
ALLOWED_5XX = {501, 503}
KEEP_NAME = {
    ("DELETE", "/instance/delete/{instanceName}"),
    ("DELETE", "/instance/logout/{instanceName}"),
}

tally: Counter[str] = Counter()
server_errors: list[str] = []


def _ensure_instance(server: Server) -> None:
    with httpx2.Client(base_url=server.url, headers={"apikey": server.key}, timeout=30) as c:
        state = c.get(f"/instance/connectionState/{NAME}")
        if state.status_code == 200 and state.json()["instance"]["state"] == "open":
            return
        if state.status_code == 404:
            c.post(
                "/instance/create", json={"instanceName": NAME, "integration": "WHATSAPP-BAILEYS"}
            )
        c.post("/sim/network", json={"up": True})
        c.get(f"/instance/connect/{NAME}")
        c.post(f"/sim/{NAME}/scan", json={"number": "5511999990042"})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("fuzz"),
        {"WAGATE_CONNECT_WAIT_SECONDS": "0.2", "WAGATE_BODY_TIMEOUT_SECONDS": "10"},
    )
    asyncio.run(server.start())
    try:
        _ensure_instance(server)
        yield server
    finally:
        server.stop()
        if REPORT:
            Path(REPORT).write_text(
                json.dumps({"checks_failed": dict(tally), "server_errors": server_errors})
            )


def _prepare(case: Any) -> None:
    op = (case.method.upper(), case.path)
    params = case.path_parameters or {}
    for key in ("instanceName", "instance"):
        if key in params and op not in KEEP_NAME:
            params[key] = NAME
    if isinstance(case.body, dict) and isinstance(case.body.get("delay"), int | float):
        case.body["delay"] = min(case.body["delay"], 50)


def _call(case: Any, server: Server) -> None:
    _prepare(case)
    tally["cases"] += 1
    try:
        case.call_and_validate(headers={"apikey": server.key}, timeout=30)
    except (FailureGroup, Failure) as exc:
        failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
        for failure in failures:
            check = ",".join(type(failure).checks) or type(failure).__name__
            tally[check] += 1
            status = getattr(failure, "status_code", None)
            if check == "not_a_server_error" and status not in ALLOWED_5XX:
                server_errors.append(f"{case.method} {case.formatted_path}: {failure.title}")
    finally:
        if case.method.upper() == "DELETE" or case.path.startswith("/sim/"):
            _ensure_instance(server)


def test_no_server_errors(served: Server) -> None:
    api = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations = []
    for result in api.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            _call(case, served)

        run()
    assert len(operations) == len({(o.method, o.path) for o in operations}) > 90
    assert tally["cases"] >= len(operations)
    assert server_errors == [], "\n".join(server_errors)
