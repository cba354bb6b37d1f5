"""Run in a subprocess (it loads neonize's Go library).

`python appstate_probe.py build`: every app-state patch wagate builds (engines/neonize/
appstate.py) and the same patch built here field by field after whatsmeow's builders
(appstate/encode.go), with the plaintext whatsmeow's EncodePatch would encrypt for each
mutation, as hex JSON.

`python appstate_probe.py send <dir>`: which collection neonize's send_app_state hands
whatsmeow. A store that looks paired (seed_store.py) gets a whatsmeow_app_state_version row
under each collection name: a well-formed one under each real name, one whose hash has an
illegal length under the empty name. whatsmeow reads the version of the patch's collection
first: "illegal length" means it was handed no collection name; a real one gets past it to
"no app state keys found" (the store has none; that is as far as a send goes offline).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

logging.basicConfig(level=logging.ERROR)
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

NOW_NS = 1_765_000_000_123_456_789
LAST = 1_764_999_000
JID = "5511999990002@s.whatsapp.net"
KEY = {"remoteJid": JID, "fromMe": False, "id": "3EB0AAAA"}


def build() -> dict[str, object]:
    from neonize.proto.Neonize_pb2 import MutationInfo, PatchInfo  # type: ignore[import-untyped]
    from neonize.proto.waCommon.WACommon_pb2 import MessageKey  # type: ignore[import-untyped]
    from neonize.proto.waSyncAction import (  # type: ignore[import-untyped]
        WAWebProtobufSyncAction_pb2 as S,
    )

    from wagate.engines.neonize import appstate

    def message_range(with_key: bool) -> object:
        r = S.SyncActionMessageRange()
        r.lastMessageTimestamp = LAST
        if with_key:
            m = r.messages.add()
            m.key.CopyFrom(MessageKey(remoteJID=JID, fromMe=False, ID="3EB0AAAA"))
            m.timestamp = LAST
        return r

    def mutation(index: list[str], version: int, value: object) -> object:
        m = MutationInfo()
        m.Index.extend(index)
        m.Version = version
        m.Value.CopyFrom(value)
        return m

    def patch(kind: int, *mutations: object) -> object:
        p = PatchInfo()
        p.Timestamp = NOW_NS
        p.Type = kind
        p.Mutations.extend(mutations)
        return p

    # whatsmeow's builders, field by field
    archive_value = S.SyncActionValue()
    archive_value.archiveChatAction.archived = True
    archive_value.archiveChatAction.messageRange.CopyFrom(message_range(True))
    unpin = S.SyncActionValue()
    unpin.pinAction.pinned = False
    unarchive_value = S.SyncActionValue()
    unarchive_value.archiveChatAction.archived = False
    unarchive_value.archiveChatAction.messageRange.CopyFrom(message_range(False))
    unread_value = S.SyncActionValue()
    unread_value.markChatAsReadAction.read = False
    unread_value.markChatAsReadAction.messageRange.CopyFrom(message_range(True))
    label_value = S.SyncActionValue()
    label_value.labelAssociationAction.labeled = True
    edit_value = S.SyncActionValue()
    edit_value.labelEditAction.name = "VIP <gold> & co"
    edit_value.labelEditAction.color = 4
    edit_value.labelEditAction.deleted = False
    expected: dict[str, Any] = {
        "archive": patch(PatchInfo.REGULAR_LOW,
                         mutation(["archive", JID], 3, archive_value),
                         mutation(["pin_v1", JID], 5, unpin)),
        "unarchive": patch(PatchInfo.REGULAR_LOW, mutation(["archive", JID], 3, unarchive_value)),
        "unread": patch(PatchInfo.REGULAR_LOW, mutation(["markChatAsRead", JID], 3, unread_value)),
        "label_chat": patch(PatchInfo.REGULAR, mutation(["label_jid", "7", JID], 3, label_value)),
        "label_edit": patch(PatchInfo.REGULAR, mutation(["label_edit", "7"], 3, edit_value)),
    }  # fmt: skip
    built = {
        "archive": appstate.archive(JID, True, LAST, KEY, now_ns=NOW_NS),
        "unarchive": appstate.archive(JID, False, LAST, None, now_ns=NOW_NS),
        "unread": appstate.mark_chat_read(JID, False, LAST, KEY, now_ns=NOW_NS),
        "label_chat": appstate.label_chat(JID, "7", True, now_ns=NOW_NS),
        "label_edit": appstate.label_edit("7", "VIP <gold> & co", 4, False, now_ns=NOW_NS),
    }

    def encoded(p: object) -> list[str]:
        # EncodePatch: the value stamped with the patch time (ms), the index as Go's JSON,
        # empty padding, the version
        out = []
        for m in p.Mutations:  # type: ignore[attr-defined]
            data = S.SyncActionData()
            index = json.dumps(list(m.Index), separators=(",", ":"))
            for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
                index = index.replace(char, escaped)
            data.index = index.encode()
            data.value.CopyFrom(m.Value)
            data.value.timestamp = NOW_NS // 1_000_000
            data.padding = b""
            data.version = m.Version
            out.append(data.SerializeToString().hex())
        return out

    return {
        name: {
            "built": built[name].SerializeToString().hex(),
            "expected": expected[name].SerializeToString().hex(),
            "plain": [b.hex() for b in appstate.plaintexts(built[name])],
            "plain_expected": encoded(expected[name]),
            "collection": appstate.COLLECTIONS[built[name].Type],
        }
        for name in expected
    }


def send(workdir: str) -> dict[str, str]:
    from tests.engines.neonize.seed_store import seed

    db = os.path.join(workdir, "store.db")
    jid = seed(db, "5511999990001")
    con = sqlite3.connect(db)
    names = ("", "critical_block", "critical_unblock_low", "regular_low", "regular_high",
             "regular")  # fmt: skip
    with con:  # the same table without its length check, one tripwire row per collection
        con.execute("ALTER TABLE whatsmeow_app_state_version RENAME TO checked_versions")
        con.execute(
            "CREATE TABLE whatsmeow_app_state_version (jid TEXT, name TEXT, "
            "version BIGINT NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (jid, name))"
        )
        for name in names:
            con.execute("INSERT INTO whatsmeow_app_state_version VALUES (?,?,?,?)",
                        (jid, name, 1, bytes(128) if name else b"-"))  # fmt: skip
    con.close()
    hole = socket.socket()  # a proxy that accepts and never answers: the dial stays pending
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    held: list[socket.socket] = []

    def accept_forever() -> None:
        while True:
            held.append(hole.accept()[0])

    threading.Thread(target=accept_forever, daemon=True).start()

    async def run() -> dict[str, str]:
        import neonize.aioze.events as events  # type: ignore[import-untyped]
        from neonize._binder import ProxySettings  # type: ignore[import-untyped]
        from neonize.aioze.client import NewAClient  # type: ignore[import-untyped]
        from neonize.proto.Neonize_pb2 import PatchInfo

        from wagate.engines.neonize import appstate

        events.event_global_loop = asyncio.get_running_loop()
        client = NewAClient(db, uuid="appstate-probe")
        port = hole.getsockname()[1]
        await client.connect(ProxySettings(proxy_address=f"socks5://127.0.0.1:{port}"))
        await asyncio.sleep(2)  # Go registers the client early in the dial
        found = {}
        patches = {
            "regular_low": appstate.archive(JID, True, LAST, None),
            "regular": appstate.label_chat(JID, "7", True),
        }
        for wanted, p in patches.items():
            assert appstate.COLLECTIONS[p.Type] == wanted
            try:
                await asyncio.wait_for(client.send_app_state(p), 10)
                found[wanted] = "sent"
            except Exception as exc:
                found[wanted] = str(exc)
        found["names"] = list(names)  # type: ignore[assignment]
        found["types"] = [PatchInfo.REGULAR_LOW, PatchInfo.REGULAR]  # type: ignore[assignment]
        # leave before asyncio.run cancels the connect task (that blocks on the pending dial)
        _done(found)
        return found

    return asyncio.run(run())


def _done(result: object) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)


def main() -> None:
    _done(build() if sys.argv[1] == "build" else send(sys.argv[2]))


if __name__ == "__main__":
    main()
