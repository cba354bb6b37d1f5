"""Every error path of the instance, settings, root and sim routes: a clear 4xx in Evolution's
envelope {status, error, response: {message}}, never a 500, and nothing stored or changed by a
refused request. Schema errors come back as a nested array, as Evolution's jsonschema ones."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest

from tests.api.contract import is_envelope
from tests.api.routes import BODY_ROUTES, SETTINGS
from tests.conftest import Harness

JSON = {"content-type": "application/json"}
BAILEYS = {"integration": "WHATSAPP-BAILEYS"}


def refused(r: httpx2.Response, status: int, message: Any = None) -> Any:
    """Assert an error envelope with this status (and message); return the message."""
    body = r.json()
    assert r.status_code == status, r.text
    assert is_envelope(body, status), body
    assert (
        body["error"]
        == {
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            409: "Conflict",
        }[status]
    )
    if message is not None:
        assert body["response"]["message"] == message, body
    return body["response"]["message"]


def schema_error(r: httpx2.Response, *messages: str) -> None:
    refused(r, 400, [list(messages)])


async def _create(h: Harness, body: Any) -> httpx2.Response:
    return await h.client.post("/instance/create", json=body)


# --- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/x"),
        ("POST", "/does/not/exist"),
        ("DELETE", "/instance"),
        ("GET", "/instance/connectionState"),  # no name: no such route
        ("GET", "/instance/create"),  # wrong methods on known paths
        ("PUT", "/instance/create"),
        ("POST", "/instance/fetchInstances"),
        ("GET", "/instance/restart/a"),
        ("POST", "/instance/delete/a"),
        ("PATCH", "/settings/set/a"),
        ("DELETE", "/sim/network"),
    ],
)
async def test_unknown_route_or_wrong_method_is_404_cannot(
    sqlite_harness: Harness, method: str, path: str
) -> None:
    """Evolution (Express) answers both with 404 'Cannot <METHOD> <path>', no key needed."""
    r = await sqlite_harness.client.request(method, path, headers={"apikey": ""})
    refused(r, 404, [f"Cannot {method} {path}"])


# --- bodies that are not what the route reads ------------------------------------------------


async def test_malformed_json_is_400_on_every_body_route(sqlite_harness: Harness) -> None:
    """Evolution: 400 with error "Internal Server Error"; wagate's error text follows the status.
    The message is a string, as Evolution's body-parser one."""
    h = sqlite_harness
    await h.create("m")
    for raw in (b'{"instanceName": ', b"{bad", b"\xff\xfe", b"[1,", b"nul", b"{'a': 1}"):
        for method, path in BODY_ROUTES:
            r = await h.client.request(method, path.format(name="m"), content=raw, headers=JSON)
            message = refused(r, 400)
            assert isinstance(message, str) and message.startswith("Malformed JSON body"), path


async def test_a_body_that_is_not_an_object_is_400(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("m")
    for raw in (b"[]", b'"text"', b"42", b"true", b"[{}]"):
        for method, path in BODY_ROUTES:
            r = await h.client.request(method, path.format(name="m"), content=raw, headers=JSON)
            schema_error(r, "body is not of a type(s) object")


async def test_body_nesting_too_deep_is_400(sqlite_harness: Harness) -> None:
    deep = b'{"instanceName": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    r = await sqlite_harness.client.post("/instance/create", content=deep, headers=JSON)
    refused(r, 400)


async def test_text_no_database_can_store_is_400(sqlite_harness: Harness) -> None:
    """NUL (PostgreSQL refuses it) and unpaired surrogates (no UTF-8) are valid JSON escapes."""
    h = sqlite_harness
    await h.create("m")
    cases = [
        (
            "/instance/create",
            b'{"instanceName": "a\\u0000b", "integration": "WHATSAPP-BAILEYS"}',
            "instanceName",
        ),
        (
            "/instance/create",
            b'{"instanceName": "a\\ud800", "integration": "WHATSAPP-BAILEYS"}',
            "instanceName",
        ),
        (
            "/instance/create",
            b'{"instanceName": "ok", "integration": "WHATSAPP-BAILEYS", '
            b'"webhook": {"url": "http://h", "events": [], "headers": {"k\\udc00": "v"}}}',
            "webhook.headers",
        ),
        (
            "/settings/set/m",
            b'{"rejectCall": true, "groupsIgnore": true, "alwaysOnline": false, '
            b'"readMessages": true, "readStatus": true, "syncFullHistory": false, '
            b'"msgCall": "\\u0000"}',
            "msgCall",
        ),
    ]
    for path, raw, where in cases:
        r = await h.client.post(path, content=raw, headers=JSON)
        schema_error(r, f"{where} contains a NUL character or an unpaired surrogate")
    assert sorted(h.gateway.instances) == ["m"]
    assert (await h.client.get("/settings/find/m")).json()["msgCall"] == ""


# --- /instance/create ------------------------------------------------------------------------


CREATE_REFUSALS: list[tuple[Any, int, Any]] = [
    (None, 400, ['The "instanceName" is required']),
    ({}, 400, ['The "instanceName" is required']),
    (BAILEYS, 400, ['The "instanceName" is required']),
    ({"instanceName": ""}, 400, [['The "instanceName" cannot be empty']]),
    ({"instanceName": "", **BAILEYS}, 400, [['The "instanceName" cannot be empty']]),
    ({"instanceName": "   ", **BAILEYS}, 400, [['The "instanceName" cannot be empty']]),
    ({"instanceName": None, **BAILEYS}, 400, ['The "instanceName" is required']),
    ({"instanceName": 123, **BAILEYS}, 400, [["instanceName is not of a type(s) string"]]),
    ({"instanceName": ["a"], **BAILEYS}, 400, [["instanceName is not of a type(s) string"]]),
    ({"instanceName": "a/b", **BAILEYS}, 400, None),
    ({"instanceName": "a\\b", **BAILEYS}, 400, None),
    ({"instanceName": "a\nb", **BAILEYS}, 400, None),
    ({"instanceName": "x" * 101, **BAILEYS}, 400, None),
    ({"instanceName": "i"}, 400, ["Invalid integration"]),
    ({"instanceName": "i", "integration": "WHATSAPP-FOO"}, 400, ["Invalid integration"]),
    ({"instanceName": "i", "integration": "whatsapp-baileys"}, 400, ["Invalid integration"]),
    ({"instanceName": "i", "integration": 1}, 400, [["integration is not of a type(s) string"]]),
    (
        {"instanceName": "i", "integration": "WHATSAPP-BUSINESS"},
        400,
        ["token is required"],
    ),
    (
        {"instanceName": "i", "integration": "WHATSAPP-BUSINESS", "token": "t"},
        400,
        [
            "integration WHATSAPP-BUSINESS is not available in this wagate build; "
            "use WHATSAPP-BAILEYS"
        ],
    ),
    (
        {"instanceName": "i", "integration": "EVOLUTION"},
        400,
        ["integration EVOLUTION is not available in this wagate build; use WHATSAPP-BAILEYS"],
    ),
    (
        {"instanceName": "i", **BAILEYS, "qrcode": "yes", "rejectCall": "no", "number": "abc"},
        400,
        [
            [
                'number does not match pattern "^\\\\d+[\\\\.@\\\\w-]+"',
                "qrcode is not of a type(s) boolean",
                "rejectCall is not of a type(s) boolean",
            ]
        ],
    ),
    (
        {"instanceName": "i", **BAILEYS, "number": "1" * 101},
        400,
        [["number does not meet maximum length of 100"]],
    ),
    (
        {"instanceName": "i", **BAILEYS, "businessId": "b" * 101},
        400,
        [["businessId does not meet maximum length of 100"]],
    ),
    (
        {"instanceName": "i", **BAILEYS, "msgCall": 1, "token": 2, "wavoipToken": []},
        400,
        [
            [
                "token is not of a type(s) string",
                "msgCall is not of a type(s) string",
                "wavoipToken is not of a type(s) string",
            ]
        ],
    ),
    (
        {"instanceName": "i", **BAILEYS, "webhook": "http://h"},
        400,
        [["webhook is not of a type(s) object"]],
    ),
    (
        {"instanceName": "i", **BAILEYS, "webhook": {"events": []}},
        400,
        [['webhook requires property "url"']],
    ),
    (
        {"instanceName": "i", **BAILEYS, "webhook": {"url": "http://h"}},
        400,
        [['webhook requires property "events"']],
    ),
    (
        {"instanceName": "i", **BAILEYS, "webhook": {"url": "http://h", "events": "ALL"}},
        400,
        [["webhook.events is not of a type(s) array"]],
    ),
    (
        {"instanceName": "i", **BAILEYS, "webhook": {"url": 5, "events": [], "enabled": 1}},
        400,
        [
            [
                "webhook.url is not of a type(s) string",
                "webhook.enabled is not of a type(s) boolean",
            ]
        ],
    ),
    (
        {"instanceName": "i", **BAILEYS, "webhook": {"url": "http://h", "events": ["x.y"]}},
        400,
        None,
    ),
    (
        {"instanceName": "i", **BAILEYS, "websocket": {"enabled": "on"}},
        400,
        [["websocket.enabled is not of a type(s) boolean"]],
    ),
    (
        {
            "instanceName": "i",
            **BAILEYS,
            "proxyHost": "h",
            "proxyPort": "1",
            "proxyProtocol": "gopher",
        },
        400,
        ["Invalid proxy", 'protocol "gopher" is not one of http, https, socks4, socks5'],
    ),
    (
        {
            "instanceName": "i",
            **BAILEYS,
            "chatwootAccountId": "1",
            "chatwootToken": "t",
            "chatwootUrl": "http://h",
        },
        400,
        [
            f"{f}: Chatwoot is not supported yet by wagate; leave the field out "
            "(nothing would act on it)"
            for f in ("chatwootAccountId", "chatwootToken", "chatwootUrl")
        ],
    ),
]


async def test_create_refuses_bad_input_and_stores_nothing(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    for body, status, message in CREATE_REFUSALS:
        r = await _create(h, body)
        try:
            got = refused(r, status, message)
        except AssertionError as exc:
            raise AssertionError(f"create {body!r:.200}: {exc}") from None
        assert got, "the message says what is wrong"
    assert (await h.client.get("/instance/fetchInstances")).json() == []
    assert h.events == [], "a refused create emits nothing (Evolution emits, then rolls back)"


async def test_names_at_the_limits_compare_exactly(harness: Harness) -> None:
    """Up to 100 characters, any script; names differing only in case, accents or trailing
    spaces (stored before new names lost them) are distinct instances on every database
    (MariaDB's default collation is not)."""
    h = harness
    names = [
        "x" * 100,
        "José da Silva 😀",
        "a.b-c_d e",
        "1",
        "Main",
        "main",
        "ação",
        "acao",
        "trail",
    ]
    for name in names:
        created = await h.create(name)
        assert created["instance"]["instanceName"] == name
    # A trailing space is refused in new names now, but one stored before stays its own name.
    await h.gateway.create(
        name="trail ",
        integration="WHATSAPP-BAILEYS",
        token=None,
        number=None,
        business_id=None,
        settings={},
        webhook=None,
    )
    names.append("trail ")
    for name in names:
        r = await h.client.get(f"/instance/connectionState/{name}")
        assert r.json()["instance"]["instanceName"] == name
    listed = [row["name"] for row in (await h.client.get("/instance/fetchInstances")).json()]
    assert sorted(listed) == sorted(names)


async def test_duplicate_names_are_403_and_the_first_instance_survives(harness: Harness) -> None:
    h = harness
    first = await h.create("dup")
    r = await _create(h, {"instanceName": "dup", **BAILEYS, "token": "other-token-0001"})
    refused(r, 403, ['This name "dup" is already in use.'])
    r = await h.client.get("/instance/connectionState/dup", headers={"apikey": first["hash"]})
    assert r.status_code == 200, "the first token still works: the refused create replaced nothing"
    # concurrent creates of one name: exactly one wins
    results = await asyncio.gather(
        *(_create(h, {"instanceName": "race", **BAILEYS}) for _ in range(5))
    )
    assert sorted(r.status_code for r in results) == [201, 403, 403, 403, 403]
    assert len(h.events_of("race", "instance.create")) == 1
    rows = (await h.client.get("/instance/fetchInstances")).json()
    assert sorted((row["name"], row["id"]) for row in rows)[0] == (
        "dup",
        first["instance"]["instanceId"],
    )
    assert sorted(row["name"] for row in rows) == ["dup", "race"]


# --- per-instance routes ---------------------------------------------------------------------


async def test_set_presence_errors(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("p")
    url = "/instance/setPresence/p"
    schema_error(await h.client.post(url, json={}), 'instance requires property "presence"')
    schema_error(await h.client.post(url), "body is required")
    schema_error(
        await h.client.post(url, json={"presence": "online"}),
        "presence is not one of enum values: unavailable,available,composing,recording,paused",
    )
    schema_error(
        await h.client.post(url, json={"presence": 1}),
        "presence is not one of enum values: unavailable,available,composing,recording,paused",
    )
    refused(
        await h.client.post(url, json={"presence": "available"}),
        400,
        ['The "p" instance is not connected'],
    )
    await h.client.get("/instance/connect/p")  # connecting: still not open
    refused(
        await h.client.post(url, json={"presence": "composing"}),
        400,
        ['The "p" instance is not connected'],
    )
    await h.client.post("/sim/p/scan", json={"number": "5511999990031"})
    r = await h.client.post(url, json={"presence": "available"})
    assert (r.status_code, r.json()) == (201, {"presence": "available"})


async def test_settings_errors_change_nothing(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("s", rejectCall=True, msgCall="no calls")
    before = (await h.client.get("/settings/find/s")).json()
    url = "/settings/set/s"
    for field in (
        "rejectCall",
        "groupsIgnore",
        "alwaysOnline",
        "readMessages",
        "readStatus",
        "syncFullHistory",
    ):
        body = {k: v for k, v in SETTINGS.items() if k != field}
        schema_error(await h.client.post(url, json=body), f'instance requires property "{field}"')
        schema_error(
            await h.client.post(url, json={**SETTINGS, field: "true"}),
            f"{field} is not of a type(s) boolean",
        )
    schema_error(
        await h.client.post(url, json={**SETTINGS, "msgCall": False}),
        "msgCall is not of a type(s) string",
    )
    assert (await h.client.get("/settings/find/s")).json() == before


async def test_connect_with_a_bad_number_is_400_and_starts_nothing(
    sqlite_harness: Harness,
) -> None:
    h = sqlite_harness
    await h.create("c")
    for number in ("abc", "12345", "55-11-9999", "+", "1" * 21, " 5511999990001"):
        r = await h.client.get("/instance/connect/c", params={"number": number})
        schema_error(r, 'number does not match pattern "^\\\\+?\\\\d{6,20}$"')
    assert h.sim.stats_of("c").connect_attempts == 0
    r = await h.client.get("/instance/connect/c", params={"number": "+5511999990001"})
    assert r.status_code == 200
    assert r.json()["pairingCode"] and r.json()["code"]


async def test_restart_of_a_closed_instance_is_400(sqlite_harness: Harness) -> None:
    """Evolution: 200 {"error": true, "message": "[object Object]"} (contract §2.7)."""
    h = sqlite_harness
    await h.create("r")
    refused(await h.client.post("/instance/restart/r"), 400, ['The "r" instance is not connected'])
    await h.client.get("/instance/connect/r")
    await h.client.post("/sim/r/scan", json={"number": "5511999990041"})
    await h.client.delete("/instance/logout/r")
    refused(await h.client.post("/instance/restart/r"), 400, ['The "r" instance is not connected'])
    assert h.gateway.get("r").supervisor.external_state == "close"


async def test_logout_twice_then_delete_twice(harness: Harness) -> None:
    h = harness
    await h.create("twice")
    await h.client.get("/instance/connect/twice")
    await h.client.post("/sim/twice/scan", json={"number": "5511999990051"})
    messages = []
    for _ in range(2):
        r = await h.client.delete("/instance/logout/twice")
        assert r.status_code == 200
        assert r.json()["status"] == "SUCCESS" and r.json()["error"] is False
        messages.append(r.json()["response"]["message"])
    assert messages == ["Instance logged out", "Instance was already disconnected"]
    r = await h.client.delete("/instance/delete/twice")
    assert r.json() == {
        "status": "SUCCESS",
        "error": False,
        "response": {"message": "Instance deleted"},
    }
    for method, path in (
        ("DELETE", "/instance/delete/twice"),
        ("DELETE", "/instance/logout/twice"),
        ("GET", "/instance/connect/twice"),
    ):
        refused(await h.client.request(method, path), 404, ['The "twice" instance does not exist'])
    assert len(h.events_of("twice", "instance.delete")) == 1


# --- the sim control routes -------------------------------------------------------------------


async def test_sim_routes_refuse_bad_input(sqlite_harness: Harness) -> None:
    h = sqlite_harness
    await h.create("sim")
    c = h.client
    schema_error(await c.post("/sim/network", json={}), 'instance requires property "up"')
    schema_error(await c.post("/sim/network", json={"up": "no"}), "up is not of a type(s) boolean")
    schema_error(
        await c.post("/sim/sim/disconnect", json={"code": "408"}),
        "code is not of a type(s) integer",
    )
    schema_error(
        await c.post("/sim/sim/disconnect", json={"code": 10**30}),
        "code must be less than or equal to 999",
    )
    schema_error(
        await c.post("/sim/sim/disconnect", json={"code": -1}),
        "code must be greater than or equal to 100",
    )
    schema_error(
        await c.post("/sim/sim/faults", json={"logoutFails": "yes"}),
        "logoutFails is not of a type(s) boolean",
    )
    schema_error(
        await c.post("/sim/sim/scan", json={"number": "not a number"}),
        'number does not match pattern "^\\\\+?\\\\d{6,20}$"',
    )
    refused(await c.post("/sim/sim/scan", json={}), 409)  # nothing to scan yet
    for path in ("/sim/nope/scan", "/sim/nope/disconnect", "/sim/nope/faults"):
        refused(await c.post(path, json={}), 404, ['The "nope" instance does not exist'])
    r = await c.get("/instance/connectionState/sim")
    assert r.status_code == 200, "nothing above poisoned the instance's state"
    assert r.json()["instance"]["state"] == "close"


async def test_free_text_settings_longer_than_a_few_kb_are_refused(harness: Harness) -> None:
    """msgCall, wavoipToken and the proxy's fields are short text: 70 KB of it is a 400 naming
    the field on every database (MariaDB's TEXT column would refuse it with an error)."""
    h = harness
    long = "x" * 70_000
    await h.create("t", msgCall="no calls")
    before = (await h.client.get("/settings/find/t")).json()
    for field in ("msgCall", "wavoipToken"):
        r = await h.client.post("/settings/set/t", json={**SETTINGS, field: long})
        message = refused(r, 400)
        assert field in str(message), message
        r = await _create(h, {"instanceName": f"n-{field}", **BAILEYS, field: long})
        assert field in str(refused(r, 400))
    assert (await h.client.get("/settings/find/t")).json() == before
    proxy = {"enabled": True, "host": "127.0.0.1", "port": "3128", "protocol": "http"}
    for field in ("host", "username", "password"):
        r = await h.client.post("/proxy/set/t", json={**proxy, field: long})
        assert field in str(refused(r, 400))
    fetched = (await h.client.get("/instance/fetchInstances")).json()
    assert [i["name"] for i in fetched] == ["t"]
