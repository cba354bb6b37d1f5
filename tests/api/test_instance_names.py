"""New instance names have one spelling and nothing invisible; names already stored that break
the rule keep working."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import pytest

from tests.conftest import Harness, start_harness, stop_harness

NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (" a", 'The "instanceName" may not begin or end with whitespace'),
        ("a ", 'The "instanceName" may not begin or end with whitespace'),
        ("a\u3000", 'The "instanceName" may not begin or end with whitespace'),
        (".", 'The "instanceName" may not be "." or ".."'),
        ("..", 'The "instanceName" may not be "." or ".."'),
        (
            "\u200b",
            'The "instanceName" may not contain format characters (U+200B ZERO WIDTH SPACE)',
        ),
        (
            "a\u200db",
            'The "instanceName" may not contain format characters (U+200D ZERO WIDTH JOINER)',
        ),
        (
            "a\u202eb",
            'The "instanceName" may not contain format characters (U+202E RIGHT-TO-LEFT OVERRIDE)',
        ),
        ("a\x85b", 'The "instanceName" may not contain control characters (U+0085 unnamed)'),
        ("a\x9bb", 'The "instanceName" may not contain control characters (U+009B unnamed)'),
        ("a\x01b", 'The "instanceName" may not contain control characters (U+0001 unnamed)'),
        (
            "a\u2028b",
            'The "instanceName" may not contain separator characters (U+2028 LINE SEPARATOR)',
        ),
        (
            "a\u00a0b",
            'The "instanceName" may not contain separator characters (U+00A0 NO-BREAK SPACE)',
        ),
        ("a/b", 'The "instanceName" may not contain "/" or "\\"'),
        ("a\\b", 'The "instanceName" may not contain "/" or "\\"'),
        (NFD, 'The "instanceName" must be in Unicode normal form C (NFC)'),
        ("x" * 101, 'The "instanceName" is at most 100 characters'),
    ],
)
async def test_each_refusal_names_its_rule(
    sqlite_harness: Harness, name: str, message: str
) -> None:
    r = await sqlite_harness.client.post(
        "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
    )
    assert r.status_code == 400, r.text
    assert r.json() == {"status": 400, "error": "Bad Request", "response": {"message": [message]}}
    assert (await sqlite_harness.client.get("/instance/fetchInstances")).json() == []


@pytest.mark.parametrize("name", ["a", "my instance", NFC, "名前", "x" * 100, "a.b", "...", "😀"])
async def test_ordinary_names_pass(sqlite_harness: Harness, name: str) -> None:
    await sqlite_harness.create(name)
    r = await sqlite_harness.client.get(f"/instance/connectionState/{quote(name)}")
    assert r.status_code == 200, r.text


async def test_one_name_one_instance(sqlite_harness: Harness) -> None:
    """`a`, ` a` and `a ` are one name (two are refused); the NFD spelling of a name is too."""
    c = sqlite_harness.client
    await sqlite_harness.create("a")
    await sqlite_harness.create(NFC)
    for name in (" a", "a ", NFD):
        r = await c.post(
            "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
        )
        assert r.status_code == 400
    names = sorted(row["name"] for row in (await c.get("/instance/fetchInstances")).json())
    assert names == sorted(["a", NFC])


async def test_stored_names_that_break_the_rule_keep_working(sqlite_harness: Harness) -> None:
    """Names stored before the rule (here put in through the gateway, which does not check)
    are restored after a restart and answer every route."""
    h = sqlite_harness
    old = [" a", ".", "\u200b", NFD, "a\u2028b"]
    for name in old:
        await h.gateway.create(
            name=name,
            integration="WHATSAPP-BAILEYS",
            token=None,
            number=None,
            business_id=None,
            settings={},
            webhook=None,
        )
    settings = h.gateway.settings
    await h.gateway.shutdown()
    h2, ctx = await start_harness(settings)
    try:
        c = h2.client
        listed = {row["name"] for row in (await c.get("/instance/fetchInstances")).json()}
        assert listed == set(old)
        for name in old:
            path = quote(name, safe="").replace(".", "%2E")  # a bare "." is a dot segment
            r = await c.get(f"/instance/connectionState/{path}")
            assert r.status_code == 200, (name, r.text)
            assert r.json()["instance"]["instanceName"] == name
            r = await c.get(f"/instance/connect/{path}")
            assert r.status_code == 200, (name, r.text)
            r = await c.delete(f"/instance/delete/{path}")
            assert r.status_code == 200, (name, r.text)
        assert (await c.get("/instance/fetchInstances")).json() == []
    finally:
        await stop_harness(h2, ctx)
