"""Replay of Evolution's recorded run A against wagate, route by route.

Every instance/settings/auth/root fixture is sent to wagate in the order Evolution received it
(the order decides which instances exist), and the answer is compared with the recorded one:
status, keys and value types everywhere, values where they are not volatile. Where wagate
answers differently on purpose, the step says what wagate does instead and why (the contract's
§2.10-2.11 and §8 list the Evolution bugs wagate does not copy).

Two things differ for every step and are not repeated below:
- Evolution was recorded offline: no QR code ever arrived. wagate's simulated network is up, so
  a connect yields the QR object of contract §1.3 and the instance is `connecting` until a phone
  scans it.
- Routers that are not instance/settings/auth/root (webhook, proxy, chat …) ran in between in
  the recording; they are not replayed here, so their traces (a Proxy row) are excused.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from tests.api.contract import (
    Values,
    Verdict,
    compare,
    is_envelope,
    load,
    names,
    request_of,
    rows_by_name,
)
from tests.conftest import API_KEY, Harness

ONLINE = "the sim network is online: the instance has a live QR code (Evolution ran offline)"
CLOSE_RECORDED = (
    "wagate records why the instance closed (Evolution's offline failure wrote nothing)"
)
PROXY_ROW = "proxy/set is not replayed here (another router)"
DELETE_AWAITED = (
    "delete finishes its work before it answers, so the name is gone at once "
    "(Evolution answers first and cleans up after its remove.instance webhook)"
)
QUERY_NEVER_OVERRIDES = "the query never changes which instance a request acts on (contract §8.1)"
ROOT_LOCAL = "GET / makes no outbound call (contract §8.7): whatsappWebVersion is null"
ROOT_DOCS = "the documentation link points to this server's own OpenAPI docs"
TRANSPORTS_OFF = "wagate refused its create: its transport blocks name transports off in the env"
QR_RE = re.compile(r"^data:image/png;base64,[A-Za-z0-9+/=]+$")


@dataclass
class World:
    """What the replay has created so far: tokens and ids by instance name."""

    h: Harness
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


Check = Callable[[httpx2.Response, World], None]


@dataclass
class Step:
    fixture: str
    token_of: str = "fx-main"
    uuid_of: str | None = None
    differs: dict[str, str] = field(default_factory=dict)
    # Instances Evolution lists that wagate does not have (name -> reason), for list answers.
    absent: dict[str, str] = field(default_factory=dict)
    # When wagate answers differently on purpose: the reason, and what it answers instead.
    instead: tuple[str, Check] | None = None
    before: Callable[[World], Awaitable[None]] | None = None


def _error(status: int, message: Any) -> Check:
    """wagate answers this error envelope (status, Evolution's error text, the message)."""

    def check(r: httpx2.Response, _: World) -> None:
        body = r.json()
        assert r.status_code == status, r.text
        assert is_envelope(body, status), body
        assert body["response"]["message"] == message, body

    return check


def _qr_object(count: int, pairing: bool = False) -> Check:
    """The QR object of contract §1.3: {pairingCode, code, base64, count}."""

    def check(r: httpx2.Response, _: World) -> None:
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"pairingCode", "code", "base64", "count"}, body
        assert isinstance(body["code"], str) and body["code"]
        assert QR_RE.match(body["base64"])
        assert body["count"] == count
        if pairing:
            assert re.fullmatch(r"[A-Z0-9]{4}-?[A-Z0-9]{4}", body["pairingCode"]), body
        else:
            assert body["pairingCode"] is None

    return check


def _state(name: str, state: str) -> Check:
    def check(r: httpx2.Response, _: World) -> None:
        assert r.status_code == 200, r.text
        assert r.json()["instance"] == {"instanceName": name, "state": state}

    return check


def _created(name: str) -> Check:
    def check(r: httpx2.Response, world: World) -> None:
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["instance"]["instanceName"] == name
        world.tokens[name] = body["hash"]
        world.ids[name] = body["instance"]["instanceId"]

    return check


def _not_listed(name: str) -> Check:
    return _error(404, [f'Instance "{name}" not found'])


async def _connect_concurrently(world: World) -> None:
    """Recorded case: a second connect 150 ms after the first, while the first was waiting."""
    first = asyncio.create_task(
        world.h.client.get("/instance/connect/fx-other", headers={"apikey": API_KEY})
    )
    await asyncio.sleep(0.15)
    world.h.__dict__["_first_connect"] = first


def _second_connect_of_two(r: httpx2.Response, world: World) -> None:
    _qr_object(1)(r, world)
    stats = world.h.sim.stats_of("fx-other")
    assert stats.live_sessions == 1, "two connects started two engine sessions"
    assert stats.connect_attempts == 1


ROWS = "$[*]"
STEPS: list[Step] = [
    Step(
        "instance.create.missing-name-empty-db",
        instead=(
            "Evolution leaks a Prisma foreign-key error; wagate says what is missing",
            _error(400, ['The "instanceName" is required']),
        ),
    ),
    Step("instance.fetchInstances.empty"),
    Step(
        "root.get.ok",
        differs={"$.whatsappWebVersion": ROOT_LOCAL, "$.documentation": ROOT_DOCS},
    ),
    Step(
        "root.get.with-key",
        differs={"$.whatsappWebVersion": ROOT_LOCAL, "$.documentation": ROOT_DOCS},
    ),
    Step("root.unknown-route.404"),
    Step("root.unknown-route.post-404"),
    Step("root.wrong-method.404"),
    Step("root.verify-creds.ok"),
    Step("root.verify-creds.missing-key"),
    Step("auth.missing-key"),
    Step("auth.wrong-key"),
    Step("auth.key-in-query"),
    Step("instance.create.ok"),
    Step("instance.create.qrcode-false"),
    Step("instance.create.with-settings"),
    Step("instance.create.with-webhook"),
    Step("instance.create.with-webhook-by-events"),
    Step("instance.create.with-webhook-headers"),
    Step("instance.create.custom-token"),
    Step("instance.create.second-instance"),
    Step(
        "instance.create.with-event-transports",
        instead=(
            "a transport block is saved as its /<transport>/set route saves it, so one that is "
            "off in the env is refused rather than echoed as enabled and dropped",
            _error(
                400,
                [
                    "websocket is off on this server (WEBSOCKET_ENABLED is not true): "
                    "its config would be stored and never used"
                ],
            ),
        ),
    ),
    Step("instance.create.duplicate-name"),
    Step("instance.create.empty-name"),
    Step(
        "instance.create.missing-name",
        instead=(
            'Evolution matches name=undefined against every row and answers 403 "undefined"',
            _error(400, ['The "instanceName" is required']),
        ),
    ),
    Step("instance.create.invalid-integration"),
    Step("instance.create.missing-integration"),
    Step("instance.create.integration-lowercase"),
    Step("instance.create.wrong-types"),
    Step(
        "instance.create.name-not-string",
        instead=(
            "bad input is a 400 schema error, never a 500 (Evolution leaks a Prisma error)",
            _error(400, [["instanceName is not of a type(s) string"]]),
        ),
    ),
    Step(
        "instance.create.no-body",
        instead=(
            'Evolution answers 403 "undefined" is already in use',
            _error(400, ['The "instanceName" is required']),
        ),
    ),
    Step(
        "instance.create.malformed-json",
        differs={
            "$.error": "the error text follows the status (Evolution says Internal Server Error)",
            "$.response.message": "the parser's own message (a string, as Evolution's)",
        },
    ),
    Step("instance.create.business-missing-token"),
    Step(
        "instance.create.webhook-without-events",
        instead=(
            "the same 400, as a schema error instead of a JavaScript crash text, and nothing "
            "is created (Evolution creates, emits instance.create, then rolls back)",
            _error(400, [['webhook requires property "events"']]),
        ),
    ),
    Step(
        "instance.create.invalid-proxy",
        instead=(
            "the proxy is tried with a TCP dial (Evolution fetches icanhazip.com through it): "
            "the second message says why it is invalid",
            _error(
                400,
                [
                    "Invalid proxy",
                    "the proxy cannot be reached: 127.0.0.1:9: Connect call failed "
                    "('127.0.0.1', 9)",
                ],
            ),
        ),
    ),
    Step(
        "instance.create.chatwoot-disabled",
        differs={
            "$.response.message": "each Chatwoot field is named, saying wagate has not built "
            "Chatwoot yet (Evolution says its Chatwoot is disabled)"
        },
    ),
    Step(
        "instance.create.qrcode-true-offline",
        differs={
            "$.instance.status": ONLINE,
            "$.qrcode.pairingCode": "the QR object of contract §1.3 (null: no ?number)",
            "$.qrcode.code": ONLINE,
            "$.qrcode.base64": ONLINE,
            "$.qrcode.count": ONLINE,
        },
    ),
    Step(
        "instance.fetchInstances.all",
        differs={"$[fx-qr].connectionStatus": ONLINE},
        absent={"fx-ws": TRANSPORTS_OFF},
    ),
    Step("instance.fetchInstances.by-name"),
    Step("instance.fetchInstances.by-id", uuid_of="fx-main"),
    Step("instance.fetchInstances.unknown-name"),
    Step("instance.fetchInstances.unknown-id"),
    Step("instance.fetchInstances.by-number"),
    Step("instance.fetchInstances.instance-token"),
    Step("instance.fetchInstances.instance-token-other-name"),
    Step("instance.connectionState.ok"),
    Step("instance.connectionState.unknown-404"),
    Step("instance.connectionState.no-name-404"),
    Step("settings.find.defaults"),
    Step("settings.find.from-create"),
    Step("settings.set.ok"),
    Step("settings.find.after-set"),
    Step("settings.set.missing-fields"),
    Step("settings.set.wrong-types"),
    Step("settings.set.empty-body"),
    Step("settings.find.unknown-404"),
    Step(
        "instance.setPresence.never-connected",
        instead=(
            "Evolution wraps a TypeError; wagate says the instance is not connected",
            _error(400, ['The "fx-main" instance is not connected']),
        ),
    ),
    Step("instance.setPresence.invalid"),
    Step(
        "instance.restart.never-connected",
        instead=(
            'Evolution hides the error behind 200 {"error":true,"message":"[object Object]"} '
            "(contract §2.7); wagate answers 400 in the error envelope",
            _error(400, ['The "fx-main" instance is not connected']),
        ),
    ),
    Step("instance.logout.never-connected"),
    Step("instance.connectionState.after-logout"),
    Step("instance.connect.offline", instead=(ONLINE, _qr_object(1))),
    Step(
        "instance.connectionState.after-connect", instead=(ONLINE, _state("fx-hook", "connecting"))
    ),
    Step(
        "instance.connect.offline-second-attempt",
        instead=(
            "a connect while connecting returns the current QR code: " + ONLINE,
            _qr_object(1),
        ),
    ),
    Step("instance.connect.offline-by-events-webhook", instead=(ONLINE, _qr_object(1))),
    Step(
        "instance.connect.pairing-number-offline",
        instead=("?number= yields a pairing code: " + ONLINE, _qr_object(1, pairing=True)),
    ),
    Step("instance.connect.unknown-404"),
    Step(
        "instance.connect.while-first-connect-pending",
        before=_connect_concurrently,
        instead=("one engine session for both connects: " + ONLINE, _second_connect_of_two),
    ),
    Step(
        "instance.connectionState.after-concurrent-connects",
        instead=(ONLINE, _state("fx-other", "connecting")),
    ),
    Step(
        "instance.restart.after-connect-attempt",
        instead=(
            "restart of a connecting instance answers its state (contract §2.7), not a hidden "
            "error behind 200",
            _state("fx-hook", "connecting"),
        ),
    ),
    Step(
        "instance.setPresence.after-connect-attempt",
        instead=(
            "Evolution wraps a TypeError; wagate says the instance is not connected",
            _error(400, ['The "fx-hook" instance is not connected']),
        ),
    ),
    Step(
        "instance.logout.after-connect-attempt",
        differs={"$.response.message": "the QR session was live, so it was logged out: " + ONLINE},
    ),
    Step(
        "instance.fetchInstances.after-connect-attempt",
        differs={
            f"{ROWS}.disconnectionReasonCode": CLOSE_RECORDED,
            f"{ROWS}.disconnectionObject": CLOSE_RECORDED,
            f"{ROWS}.disconnectionAt": CLOSE_RECORDED,
        },
    ),
    Step("auth.instance-token-own-instance"),
    Step("auth.instance-token-other-instance"),
    Step("auth.instance-token-create"),
    Step(
        "auth.instance-token-fetchInstances",
        differs={f"{ROWS}.Proxy": PROXY_ROW},
    ),
    Step(
        "auth.instance-token-query-override",
        instead=(QUERY_NEVER_OVERRIDES, _state("fx-main", "close")),
    ),
    Step("auth.instance-token-verify-creds"),
    Step("auth.missing-key-unknown-instance"),
    Step("auth.missing-key-known-instance"),
    Step("auth.wrong-key-known-instance"),
    Step("auth.custom-token-own-instance", token_of="fx-tok"),
    Step("instance.delete.ok"),
    Step("instance.fetchInstances.right-after-delete"),
    Step("instance.fetchInstances.after-delete-settled"),
    Step("instance.delete.unknown-404"),
    Step("instance.create.with-slow-webhook"),
    Step("instance.delete.slow-webhook"),
    Step(
        "instance.connectionState.during-delete",
        instead=(DELETE_AWAITED, _error(404, ['The "fx-slow" instance does not exist'])),
    ),
    Step(
        "instance.fetchInstances.during-delete", instead=(DELETE_AWAITED, _not_listed("fx-slow"))
    ),
    Step(
        "instance.create.name-in-use-during-delete", instead=(DELETE_AWAITED, _created("fx-slow"))
    ),
    Step("instance.delete.twice-during-delete"),
    Step("instance.connectionState.after-delete-settled"),
    Step("instance.create.name-free-after-delete"),
    Step("instance.delete.with-webhook"),
    Step("instance.delete.with-by-events-webhook"),
    Step("instance.delete.qrcode-instance"),
    Step(
        "instance.create.empty-name-with-integration",
        instead=(
            'the non-empty rule always applies: Evolution stores an instance named "" that no '
            "/:instanceName route can reach",
            _error(400, [['The "instanceName" cannot be empty']]),
        ),
    ),
    Step(
        "instance.fetchInstances.with-empty-name",
        differs={
            f"{ROWS}.Proxy": PROXY_ROW,
            "$[fx-settings].connectionStatus": ONLINE,
            "$[fx-other].connectionStatus": ONLINE,
        },
        absent={"": "wagate refused the empty name", "fx-ws": TRANSPORTS_OFF},
    ),
    Step(
        "instance.fetchInstances.final",
        differs={
            f"{ROWS}.Proxy": PROXY_ROW,
            "$[fx-settings].connectionStatus": ONLINE,
            "$[fx-other].connectionStatus": ONLINE,
        },
        absent={"": "wagate refused the empty name", "fx-ws": TRANSPORTS_OFF},
    ),
]
# Replayed separately (tests/api/test_contract_auth.py): it reads a webhook/find route.
ELSEWHERE = {"auth.instance-token-query-override-webhook"}


def test_every_fixture_has_a_step() -> None:
    """No recorded instance/settings/auth/root exchange is left out of the replay."""
    replayed = [s.fixture for s in STEPS]
    assert len(replayed) == len(set(replayed))
    assert set(replayed) | ELSEWHERE == set(names("instance.", "settings.", "auth.", "root."))
    for step in STEPS:
        assert step.instead is None or step.instead[0], step.fixture


def _values(world: World, step: Step) -> Values:
    return Values(
        global_key=API_KEY,
        token=world.tokens.get(step.token_of),
        uuid=world.ids.get(step.uuid_of) if step.uuid_of else None,
        upper_uuid=str(uuid.uuid4()).upper(),
    )


def _resolved(value: Any, values: Values) -> Any:
    """The recorded body with the request's own values put back (e.g. <uuid-upper>)."""
    if isinstance(value, str) and "<uuid-upper>" in value:
        return values.resolve(value)
    if isinstance(value, dict):
        return {k: _resolved(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, values) for v in value]
    return value


def _compare_step(step: Step, fx: dict[str, Any], r: httpx2.Response, values: Values) -> Verdict:
    expected = fx["response"]
    verdict = Verdict()
    if r.status_code != expected["status"]:
        verdict.problems.append(f"status {r.status_code} where Evolution has {expected['status']}")
        return verdict
    if not r.headers.get("content-type", "").startswith("application/json"):
        verdict.problems.append(f"content-type {r.headers.get('content-type')}")
    body = r.json()
    want = _resolved(expected["body"], values)
    if isinstance(want, list) and want and "name" in want[0]:  # fetchInstances: keyed by name
        want = {n: row for n, row in rows_by_name(want).items() if n not in step.absent}
        body = rows_by_name(body) if isinstance(body, list) else body
        differs = {
            k.replace("$[*]", "$.*").replace("$[", "$.").replace("]", ""): v
            for k, v in step.differs.items()
        }
        return compare(want, body, differs)
    return compare(want, body, step.differs)


async def _send(fx: dict[str, Any], world: World, values: Values) -> httpx2.Response:
    req = request_of(fx, values)
    return await world.h.client.request(
        req.method,
        req.path,
        params=req.params,
        content=req.content,
        headers=req.headers,
    )


async def _replay(h: Harness, steps: list[Step]) -> list[str]:
    """Send each step's recorded request in order; return what differs from the recording."""
    world = World(h)
    h.client.headers.pop("apikey")  # every request carries the key the recording sent
    failures: list[str] = []
    for step in steps:
        fx = load(step.fixture)
        if step.before is not None:
            await step.before(world)
        values = _values(world, step)
        r = await _send(fx, world, values)
        if step.instead is not None:
            try:
                step.instead[1](r, world)
            except AssertionError as exc:
                failures.append(f"{step.fixture} (wagate differs: {step.instead[0]}): {exc}")
        else:
            verdict = _compare_step(step, fx, r, values)
            failures += [f"{step.fixture}: {p}" for p in verdict.problems]
            if r.status_code == 201 and fx["request"]["path"] == "/instance/create":
                _created(r.json()["instance"]["instanceName"])(r, world)
        first = h.__dict__.pop("_first_connect", None)
        if first is not None:
            _qr_object(1)(await first, world)
    return failures


async def test_replay_run_a(evo: Harness) -> None:
    """Every recorded exchange, in the recorded order, against wagate on SQLite."""
    failures = await _replay(evo, STEPS)
    assert not failures, "\n".join(failures)


# The exchanges that touch the database, replayed on SQLite, PostgreSQL and MariaDB.
ON_EVERY_DATABASE = {
    "instance.create.missing-name-empty-db",
    "instance.fetchInstances.empty",
    "instance.create.ok",
    "instance.create.with-settings",
    "instance.create.with-webhook",
    "instance.create.with-webhook-headers",
    "instance.create.custom-token",
    "instance.create.second-instance",
    "instance.create.duplicate-name",
    "instance.fetchInstances.by-name",
    "instance.fetchInstances.by-id",
    "instance.fetchInstances.by-number",
    "instance.fetchInstances.instance-token",
    "instance.fetchInstances.unknown-id",
    "settings.find.defaults",
    "settings.find.from-create",
    "settings.set.ok",
    "settings.find.after-set",
    "settings.set.wrong-types",
    "instance.logout.never-connected",
    "instance.connectionState.after-logout",
    "auth.instance-token-own-instance",
    "auth.instance-token-other-instance",
    "auth.custom-token-own-instance",
    "instance.delete.ok",
    "instance.fetchInstances.right-after-delete",
}


async def test_replay_on_every_database(evo_db: Harness) -> None:
    steps = [s for s in STEPS if s.fixture in ON_EVERY_DATABASE]
    assert len(steps) == len(ON_EVERY_DATABASE)
    failures = await _replay(evo_db, steps)
    assert not failures, "\n".join(failures)
