"""App-state patches (archive, unread, labels): wagate builds the mutations whatsmeow's
appstate builders make, byte for byte, and neonize 0.5.2 cannot deliver them (measured here),
which is why the neonize engine answers 501 for archiveChat, markChatUnread and labels.

Both checks run in a subprocess (appstate_probe.py): they load neonize's Go library.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).with_name("appstate_probe.py")
JID = b"5511999990002@s.whatsapp.net"
NOW_MS = 1_765_000_000_123
LAST = 1_764_999_000


def _run(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, timeout=90,
        check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    return _run("build")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    """One protobuf field: a varint, or length-delimited bytes."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_patches_are_whatsmeows_byte_for_byte(built: dict[str, Any]) -> None:
    assert set(built) == {"archive", "unarchive", "unread", "label_chat", "label_edit"}
    for name, p in built.items():
        assert p["built"] == p["expected"], name  # the PatchInfo neonize hands Go
        assert p["plain"] == p["plain_expected"], name  # what EncodePatch encrypts
    collections = {name: p["collection"] for name, p in built.items()}
    assert collections == {
        "archive": "regular_low", "unarchive": "regular_low", "unread": "regular_low",
        "label_chat": "regular", "label_edit": "regular",
    }  # fmt: skip
    assert len(built["archive"]["plain"]) == 2, "archiving also unpins (BuildArchive)"


def test_the_encoded_mutations_on_the_wire(built: dict[str, Any]) -> None:
    """The plaintexts spelled out from the proto definitions' field numbers (SyncActionData:
    index 1, value 2, padding 3, version 4; SyncActionValue: timestamp 1, pinAction 5,
    labelEditAction 14, labelAssociationAction 15, archiveChatAction 17, markChatAsReadAction
    20), so a change in either builder shows here too."""
    stamp = _field(1, NOW_MS)
    last_range = _field(1, LAST)  # SyncActionMessageRange.lastMessageTimestamp

    def data(index: bytes, value: bytes, version: int) -> str:
        return (_field(1, index) + _field(2, value) + _field(3, b"") + _field(4, version)).hex()

    unarchive = stamp + _field(17, _field(1, 0) + _field(2, last_range))
    assert built["unarchive"]["plain"] == [data(b'["archive","' + JID + b'"]', unarchive, 3)]
    key = _field(1, JID) + _field(2, 0) + _field(3, b"3EB0AAAA")  # WACommon.MessageKey
    with_key = last_range + _field(3, _field(1, key) + _field(2, LAST))
    archive = stamp + _field(17, _field(1, 1) + _field(2, with_key))
    unpin = stamp + _field(5, _field(1, 0))
    assert built["archive"]["plain"] == [
        data(b'["archive","' + JID + b'"]', archive, 3),
        data(b'["pin_v1","' + JID + b'"]', unpin, 5),
    ]
    unread = stamp + _field(20, _field(1, 0) + _field(2, with_key))
    assert built["unread"]["plain"] == [data(b'["markChatAsRead","' + JID + b'"]', unread, 3)]
    labeled = stamp + _field(15, _field(1, 1))
    assert built["label_chat"]["plain"] == [data(b'["label_jid","7","' + JID + b'"]', labeled, 3)]
    # Go's JSON escapes <, > and & in the index; the label's name is a proto string as is
    edit = stamp + _field(14, _field(1, b"VIP <gold> & co") + _field(2, 4) + _field(4, 0))
    assert built["label_edit"]["plain"] == [data(b'["label_edit","7"]', edit, 3)]


def test_neonize_hands_whatsmeow_no_collection_name(tmp_path: Path) -> None:
    """neonize 0.5.2's send_app_state loses the patch's type on its way to Go: whatsmeow reads
    the version of the collection named "" for a regular_low (archive) and a regular (label)
    patch alike, so WhatsApp could apply none of them. When this fails after a neonize
    upgrade, wire engines/neonize/appstate.py into the host and drop the 501s."""
    found = _run("send", str(tmp_path))
    assert found["names"][0] == "" and found["types"] == [3, 5]
    for collection in ("regular_low", "regular"):
        assert "illegal length" in found[collection], (collection, found[collection])
