"""Messaging over neonize, offline: our JSON through neonize's real protobufs, real whatsmeow
event protobufs through a host's handler to typed events, and the calls over a real host's
pipe failing fast while the session is not connected (shared/reference/neonize.md §9.3).

What cannot run here: any call that reaches WhatsApp (a send, a group call, a download …)
needs a connected session, and this machine has no route to WhatsApp.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.engines.neonize.conftest import Factory
from wagate.domain.errors import BadRequest, EngineUnavailable, NotSupported
from wagate.engines.base import SessionSpec
from wagate.engines.messaging import (
    Call,
    ContactUpdate,
    GroupChange,
    History,
    Message,
    MessageKey,
    Messaging,
    Outgoing,
    Presence,
    Receipt,
    messaging_of,
)
from wagate.engines.neonize import HostConfig, NeonizeConfig, NeonizeEngine, NeonizeSession
from wagate.engines.neonize.calls import Calls
from wagate.engines.neonize.received import inbound_event

PROBE = Path(__file__).with_name("proto_probe.py")


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    """One subprocess builds every protobuf and runs every event (it loads Go)."""
    out = subprocess.run(
        [sys.executable, str(PROBE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_kind_of_content_becomes_neonizes_protobuf(probe: dict[str, Any]) -> None:
    kinds = probe["kinds"]
    assert len(kinds) == 22
    for name, k in kinds.items():
        assert k["bytes"] > 0, name
        if k["member"] is None and name != "status":
            # parsed back from the wire, the JSON form is exactly what we built
            assert k["json"] == k["input"], name
    f = {name: k["fields"] for name, k in kinds.items()}
    assert f["text"]["set"] == ["conversation"]
    assert f["text_quoted_mentions"]["stanzaID"] == "3EB0QUOTED"
    assert f["text_quoted_mentions"]["quoted"] == "the quoted text"
    assert f["text_quoted_mentions"]["mentionedJID"] == ["5511999990002@s.whatsapp.net"]
    assert f["voice"]["PTT"] is True and f["audio"]["PTT"] is False
    assert f["voice"]["seconds"] == 7 and f["voice"]["mimetype"] == "audio/ogg; codecs=opus"
    assert kinds["voice"]["json"]["audioMessage"]["ptt"] is True  # whatsmeow's PTT, as JSON
    assert f["sticker"]["isAnimated"] is True and f["sticker"]["size"] == [512, 512]
    assert f["sticker"]["mimetype"] == "image/webp"
    assert f["location"]["lat"] == -23.55
    assert f["reaction"]["reaction"] == [
        "5511999990001@s.whatsapp.net", True, "3EB0ABCDEF0123456789", "👍", 1_700_000_000_000
    ]  # fmt: skip
    assert f["reaction_removed"]["reaction"][3] == ""
    assert f["poll"]["poll"] == ["Lunch?", ["pizza", "sushi", "salad"], 1]
    assert kinds["poll"]["poll_secret"] is True and kinds["text"]["poll_secret"] is False
    assert f["revoke"]["protocol"] == ["3EB0ABCDEF0123456789", 0, "", 0]  # REVOKE
    assert f["edit"]["protocol"] == ["3EB0ABCDEF0123456789", 14, "fixed", 1_700_000_000_000]
    assert len(f["contacts"]["vcards"]) == 2 and "waid=5511999990001" in f["contacts"]["vcards"][0]
    assert f["list"]["set"] == ["listMessage"] and f["buttons"]["set"] == ["interactiveMessage"]
    assert f["status"]["backgroundArgb"] == 0xFF008000  # '#008000' as the proto's ARGB
    # a link preview: the JSON spelling (jpegThumbnail, previewType by name) to waE2E's fields
    assert f["text_preview"]["preview"] == [
        "see https://example.org/a", "https://example.org/a", "Example", "About", 1,
        base64.b64encode(b"\xff\xd8\xffjpeg").decode(),
    ]  # fmt: skip
    assert f["text_preview"]["stanzaID"] == "3EB0QUOTED"
    assert (
        kinds["text_preview"]["json"]["extendedTextMessage"]["jpegThumbnail"]
        == (kinds["text_preview"]["input"]["extendedTextMessage"]["jpegThumbnail"])
    )


def test_media_kinds_carry_the_upload(probe: dict[str, Any]) -> None:
    kinds = probe["kinds"]
    members = {n: k["member"] for n, k in kinds.items() if k["member"]}
    assert members == {
        "image": "imageMessage",
        "video": "videoMessage",
        "audio": "audioMessage",
        "document": "documentMessage",
        "image_quoted": "imageMessage",
        "voice": "audioMessage",
        "ptv": "ptvMessage",
        "sticker": "stickerMessage",
    }
    sha = base64.b64encode(b"s" * 32).decode()
    for name, member in members.items():
        body = kinds[name]["json"][member]
        original = kinds[name]["input"][member]
        # what we built is kept, the upload's location and keys are added (JSON spelling)
        assert {k: body[k] for k in original} == original, name
        assert body["url"] == "https://mmg.whatsapp.net/v/x.enc?p=1", name
        assert body["directPath"] == "/v/x.enc" and body["fileSha256"] == sha, name
        assert body["fileLength"] == "1234" and body["mediaKeyTimestamp"] == "1700000000", name
    assert kinds["document"]["json"]["documentMessage"]["fileName"] == "report.pdf"
    assert kinds["image_quoted"]["fields"]["ctx_stanzaID"] == "3EB0QUOTED"


def test_content_whatsmeow_cannot_send_is_a_bad_request(probe: dict[str, Any]) -> None:
    bad = probe["bad"]
    assert bad["empty"] == "bad: the message content is empty"
    assert (
        bad["unknown_member"].startswith("bad: the message has no member")
        and "fooMessage" in (bad["unknown_member"])
    )
    assert bad["wrong_type"].startswith("bad: the message content is not valid")
    assert "degreesLatitude" in bad["wrong_type"]
    assert bad["media_without_member"].startswith("bad: media bytes")


def test_the_methods_we_call_exist_in_neonize(probe: dict[str, Any]) -> None:
    sig = probe["signatures"]
    assert (
        sig["send_message"][:3] == ["self", "to", "message"]
        and "add_msg_secret" in (sig["send_message"])
    )
    assert sig["mark_read"] == ["self", "message_ids", "chat", "sender", "receipt", "timestamp"]
    assert sig["upload"] == ["self", "binary", "media_type"]
    assert sig["update_group_participants"] == ["self", "jid", "participants_changes", "action"]
    assert sig["set_group_topic"] == ["self", "jid", "previous_id", "new_id", "topic"]
    assert sig["get_group_invite_link"] == ["self", "jid", "revoke"]
    assert sig["decrypt_poll_vote"] == ["self", "message"]
    assert sig["reject_call"] == ["self", "call_from", "call_id"]
    assert len(sig) == 32


def _events(probe: dict[str, Any]) -> list[Any]:
    frames = probe["frames"]
    assert all(f["sid"] == "inst-1" and f["epoch"] == 7 for f in frames)
    return [inbound_event(7, f) for f in frames]


def test_whatsmeow_messages_become_message_events(probe: dict[str, Any]) -> None:
    msgs = [e for e in _events(probe) if isinstance(e, Message)]
    assert len(msgs) == 4  # the key-distribution-only message is not reported
    direct, group, mine, vote = msgs
    # a vote whose decryption fails (the session is not connected) goes on as it came
    assert vote.content["pollUpdateMessage"]["pollCreationMessageKey"]["id"] == "POLL1"
    assert vote.content["pollUpdateMessage"]["vote"]["encPayload"] == "AQI="
    assert direct.key == MessageKey(
        "5511999990002@s.whatsapp.net", False, "ABCD1234",
        remote_jid_alt="123456789@lid", addressing_mode="pn",
    )  # fmt: skip
    assert (direct.content, direct.timestamp, direct.push_name, direct.kind) == (
        {"conversation": "hi there"}, 1_700_000_200, "Alice", "notify"
    )  # fmt: skip
    assert group.key.participant == "123456789@lid"  # the device part is dropped
    assert group.key.participant_alt == "5511999990002@s.whatsapp.net"
    assert group.key.addressing_mode == "lid" and group.timestamp == 1_700_000_300  # from ms
    assert group.content["imageMessage"]["fileSha256"] == "c2hh"
    assert group.content["imageMessage"]["url"].startswith("https://mmg.whatsapp.net/")
    assert mine.key.from_me and mine.kind == "append" and mine.push_name is None
    assert mine.key.remote_jid_alt == "123456789@lid" and mine.key.addressing_mode is None
    assert all(m.epoch == 7 for m in msgs)


def test_a_decrypted_vote_names_the_options_by_hash() -> None:
    from wagate.engines.messaging import poll_option_hash
    from wagate.engines.neonize import inbound

    frame: dict[str, Any] = {"ev": "message", "content": {"pollUpdateMessage": {
        "pollCreationMessageKey": {"id": "P1"}, "vote": {"encPayload": "AQI=", "encIV": "Aw=="},
        "senderTimestampMs": "1"}}}  # fmt: skip
    hashes = [hashlib.sha256(b"Pizza").digest(), hashlib.sha256(b"Sushi").digest()]
    out = inbound.with_vote(frame, hashes)
    assert out["content"]["pollUpdateMessage"] == {
        "pollCreationMessageKey": {"id": "P1"},
        "vote": {"selectedOptions": [poll_option_hash("Pizza"), poll_option_hash("Sushi")]},
        "senderTimestampMs": "1",
    }
    assert "encPayload" in frame["content"]["pollUpdateMessage"]["vote"], "not changed in place"


def test_whatsmeow_receipts_and_presence_become_events(probe: dict[str, Any]) -> None:
    events = _events(probe)
    receipts = [e for e in events if isinstance(e, Receipt)]
    assert [(r.status, [(k.id, k.from_me, k.participant) for k in r.keys]) for r in receipts] == [
        ("READ", [("M1", True, "5511999990002@s.whatsapp.net"),
                  ("M2", True, "5511999990002@s.whatsapp.net")]),
        ("DELIVERY_ACK", [("M3", True, None)]),
        ("READ", [("IN1", False, None)]),  # read by us on another device
    ]  # fmt: skip
    presences = [e for e in events if isinstance(e, Presence)]
    assert [(p.chat, p.participant, p.presence, p.last_seen) for p in presences] == [
        ("5511999990002@s.whatsapp.net", "5511999990002@s.whatsapp.net", "unavailable",
         1_700_000_600),
        ("5511999990002@s.whatsapp.net", "5511999990002@s.whatsapp.net", "available", None),
        ("120363012345678901@g.us", "5511999990002@s.whatsapp.net", "recording", None),
        ("5511999990002@s.whatsapp.net", "5511999990002@s.whatsapp.net", "paused", None),
    ]  # fmt: skip


def test_a_whatsmeow_call_offer_becomes_a_call(probe: dict[str, Any]) -> None:
    calls = [e for e in _events(probe) if isinstance(e, Call)]
    assert calls == [Call(7, "CALL1", "5511999990002@s.whatsapp.net", 1_700_000_700, video=True)]


def test_whatsmeow_group_events_become_group_changes(probe: dict[str, Any]) -> None:
    changes = [e for e in _events(probe) if isinstance(e, GroupChange)]
    assert [(c.action, c.participants) for c in changes] == [
        ("create", ()),
        ("add", ("5511999990002@s.whatsapp.net",)),
        ("promote", ("5511999990002@s.whatsapp.net",)),
        ("update", ()),
    ]
    created = changes[0].group
    assert (created.jid, created.subject, created.owner, created.creation) == (
        "120363012345678901@g.us", "Team", "5511999990001@s.whatsapp.net", 1_700_000_000
    )  # fmt: skip
    assert created.description == "about" and created.announce and not created.restrict
    assert created.ephemeral == 86400 and created.subject_time == 1_700_000_100
    assert [(p.jid, p.admin, p.lid) for p in created.participants] == [
        ("5511999990001@s.whatsapp.net", "superadmin", None),
        ("5511999990002@s.whatsapp.net", None, "123456789@lid"),  # LID member, by its number
    ]
    # Not connected, so the metadata could not be fetched: what the event said is used.
    assert all(c.group.subject == "Renamed" for c in changes[1:])
    assert changes[1].author == "5511999990001@s.whatsapp.net"


@pytest.mark.parametrize(
    "head",
    [{"ev": "receipt", "keys": [], "status": "READ"}, {"ev": "qr", "code": "x"}, {"ev": "nope"}],
)
def test_frames_that_are_not_inbound_events(head: dict[str, Any]) -> None:
    assert inbound_event(1, head) is None


CALLS: list[tuple[str, Any]] = [
    ("send", lambda m: m.send(Outgoing("5511999990002@s.whatsapp.net", {"conversation": "x"}))),
    ("read", lambda m: m.read([MessageKey("5511999990002@s.whatsapp.net", False, "A1")])),
    ("played", lambda m: m.played([MessageKey("5511999990002@s.whatsapp.net", False, "A1")])),
    ("chat_presence", lambda m: m.chat_presence("5511999990002@s.whatsapp.net", "composing")),
    ("check_numbers", lambda m: m.check_numbers(["5511999990002@s.whatsapp.net"])),
    ("picture_url", lambda m: m.picture_url("5511999990002@s.whatsapp.net")),
    ("profile", lambda m: m.profile(None)),
    ("set_profile", lambda m: m.set_profile(name="x")),
    ("privacy", lambda m: m.privacy()),
    ("set_privacy", lambda m: m.set_privacy({"readreceipts": "none"})),
    ("block", lambda m: m.block("5511999990002@s.whatsapp.net", True)),
    ("download", lambda m: m.download({"mimetype": "image/jpeg", "directPath": "/v/x"})),
    ("group_create", lambda m: m.group_create("g", ["5511999990002@s.whatsapp.net"], None)),
    ("group", lambda m: m.group("120363012345678901@g.us")),
    ("groups", lambda m: m.groups()),
    ("group_participants", lambda m: m.group_participants("1@g.us", "add", ["1@s.whatsapp.net"])),
    ("group_update", lambda m: m.group_update("120363012345678901@g.us", subject="s")),
    ("group_invite", lambda m: m.group_invite("120363012345678901@g.us")),
    ("invite_info", lambda m: m.invite_info("AbCdEf")),
    ("join", lambda m: m.join("AbCdEf")),
    ("leave", lambda m: m.leave("120363012345678901@g.us")),
]  # fmt: skip


async def test_calls_cross_the_real_pipe_and_fail_fast_while_not_connected(
    neonize_app: Factory, blackhole_proxy: str
) -> None:
    """A session dialing a network that never answers: every call reaches the host and comes
    back at once (no FFI call, no wait on the dial), classified; the API answers 400."""
    h = await neonize_app(proxy=blackhole_proxy, host=HostConfig(connect_deadline=120.0))
    instance_id = await h.create("dialing")
    await h.connect("dialing")

    async def dialing() -> bool:
        host = h.host_of(instance_id)
        return host is not None and host.ready.done() and instance_id in host.live

    await h.until(dialing, 30, "the session dialing on its host")
    session = h.gateway.get("dialing").supervisor.session
    m = messaging_of(session, "neonize")
    assert isinstance(m, Messaging)
    for name, call in CALLS:
        t0 = time.monotonic()
        with pytest.raises(EngineUnavailable, match="not connected to WhatsApp"):
            await call(m)
        assert time.monotonic() - t0 < 2.0, name

    # Content is converted in the host first: bad content is a 400 whatever the connection.
    with pytest.raises(BadRequest, match="no member whatsmeow knows"):
        await m.send(Outgoing("5511999990002@s.whatsapp.net", {"fooMessage": {}}))
    # Media bytes cross the pipe as the frame's body (4 MB here), then the same fast refusal.
    image = Outgoing("5511999990002@s.whatsapp.net", {"imageMessage": {"mimetype": "image/png"}},
                     media=b"\x89PNG" + b"\0" * (4 << 20))  # fmt: skip
    t0 = time.monotonic()
    with pytest.raises(EngineUnavailable, match="not connected"):
        await m.send(image)
    assert time.monotonic() - t0 < 2.0
    with pytest.raises(BadRequest, match="without a media member"):
        await m.send(Outgoing("5511999990002@s.whatsapp.net", {"conversation": "x"}, media=b"x"))
    for call in (m.labels(), m.label_chat("1@s.whatsapp.net", "1", True),
                 m.modify_chat("1@s.whatsapp.net", archive=True),
                 m.group_member_add_mode("1@g.us", "all_member_add")):  # fmt: skip
        with pytest.raises(NotSupported):
            await call

    # Through the API: the instance is connecting, so a send is a clear 400, at once.
    t0 = time.monotonic()
    r = await h.client.post(
        "/message/sendText/dialing", json={"number": "5511999990002", "text": "hi"}
    )
    assert r.status_code == 400, r.text
    assert "not connected (state: connecting)" in r.json()["response"]["message"][0]
    assert time.monotonic() - t0 < 2.0
    # The host is still healthy and serving the session.
    assert h.host_of(instance_id).alive and instance_id in h.host_of(instance_id).live


async def test_a_call_on_a_session_with_no_host_fails_at_once(tmp_path: Path) -> None:
    engine = NeonizeEngine.for_data_dir(tmp_path)
    session = NeonizeSession(engine, SessionSpec("i-1", "one", 1, None), lambda e: None)
    with pytest.raises(EngineUnavailable, match="the session is not running"):
        await session.send(Outgoing("5511999990002@s.whatsapp.net", {"conversation": "x"}))
    assert isinstance(session, Messaging) and not engine.pool.hosts


def test_whatsmeow_history_sync_becomes_history_chunks(probe: dict[str, Any]) -> None:
    alice, grp = "5511999990002@s.whatsapp.net", "120363012345678901@g.us"
    chunks = [e for e in _events(probe) if isinstance(e, History)]
    assert len(chunks) == 2 and all(c.epoch == 7 for c in chunks)
    first, last = chunks
    assert [m.key.id for m in first.messages] == ["H1", "H2", "H4"]  # the stub is not reported
    h1, h2, h4 = first.messages
    assert h1.key == MessageKey(alice, False, "H1", remote_jid_alt="123456789@lid")
    assert (h1.content, h1.timestamp, h1.push_name, h1.status, h1.kind) == (
        {"conversation": "old hello"}, 1_690_000_100, "Alice", "READ", "history"
    )  # fmt: skip
    assert h2.key.from_me and h2.status == "DELIVERY_ACK" and h2.push_name is None
    assert h2.content == {"extendedTextMessage": {"text": "old reply"}}
    assert h4.key == MessageKey(grp, False, "H4", participant=alice)  # the device is dropped
    assert h4.content["imageMessage"]["directPath"] == "/v/h.enc" and h4.status is None
    chats = [(c.jid, c.name, c.unread, c.timestamp, c.archived, c.jid_alt) for c in first.chats]
    assert chats == [
        (alice, None, 2, 1_690_000_300, False, "123456789@lid"),
        (grp, "Team", 0, 1_690_000_400, True, None),  # from milliseconds
    ]  # fmt: skip
    assert [(c.jid, c.name, c.notify) for c in first.contacts] == [
        (alice, None, None), (grp, "Team", None)
    ]  # fmt: skip
    assert (first.progress, first.final, first.sync_type) == (40, False, "recent")
    assert [(c.jid, c.notify) for c in last.contacts] == [(alice, "Alice A.")]  # no empty name
    assert (last.messages, last.progress, last.final, last.sync_type) == (
        (),
        100,
        True,
        "push_name",
    )


def test_a_large_history_blob_is_split_into_frames(probe: dict[str, Any]) -> None:
    frames = probe["big_history"]
    assert len(frames) >= 3 and sum(f["messages"] for f in frames) == 1_500
    assert all(f["bytes"] < 1 << 20 for f in frames)  # under the pipe's header limit
    assert [f["final"] for f in frames] == [False] * (len(frames) - 1) + [True]
    assert [f["chats"] for f in frames] == [1] + [0] * (len(frames) - 1)


def test_history_frames_that_are_malformed_are_dropped() -> None:
    head = {"ev": "history", "messages": [{"content": {}}], "sid": "s", "epoch": 1}
    with pytest.raises(KeyError):
        inbound_event(1, head)  # NeonizeSession.on_event drops it (and logs)
    empty = inbound_event(1, {"ev": "history"})
    assert isinstance(empty, History) and empty.messages == () and not empty.final


async def test_sync_full_history_reaches_the_host_and_whatsmeows_device_props(
    probe: dict[str, Any],
) -> None:
    """syncFullHistory travels in the start command; the host asks for a full sync with it
    (whatsmeow's DeviceProps.requireFullSync, sent when the device pairs)."""
    assert probe["full_sync_props"] is True

    class Host:
        def __init__(self) -> None:
            self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.ready.set_result(None)
            self.connects = 0
            self.live: dict[str, Any] = {}
            self.sent: list[dict[str, Any]] = []

        async def request(self, op: str, timeout: float, **head: Any) -> None:
            self.sent.append({"op": op, **head})

    class Engine:
        config = NeonizeConfig()

    for full in (True, False):
        spec = SessionSpec("inst-1", "one", 3, None, None, full)
        session = NeonizeSession(Engine(), spec, lambda e: None)  # type: ignore[arg-type]
        host = Host()
        session.begin(host, "/tmp/x.db")  # type: ignore[arg-type]
        assert session._starter is not None
        await session._starter
        assert host.sent[0]["op"] == "start" and host.sent[0]["full_history"] is full

    props: list[dict[str, Any]] = []

    class Nz:
        class DeviceProps:
            CHROME = 1

            def __init__(self, **kw: Any) -> None:
                props.append(kw)

        def NewAClient(self, *a: Any, **kw: Any) -> Any:
            raise RuntimeError("no Go here")

    from wagate.engines.neonize.host import Host as RealHost

    real = RealHost(HostConfig(), proto_fd=-1)
    real.nz = Nz()
    for full in (True, False):
        with pytest.raises(RuntimeError):
            await real.op_start({"sid": f"s{full}", "epoch": 1, "db": "x", "full_history": full})
        assert props[-1]["requireFullSync"] is full


async def test_the_phone_shows_the_configured_device_name(tmp_path: Path) -> None:
    """CONFIG_SESSION_PHONE_CLIENT / _NAME reach each host, which gives them to whatsmeow as
    DeviceProps (os: the name on the phone's linked-devices list; platformType: its browser)."""
    from wagate.config import load_settings
    from wagate.engines.neonize import from_settings
    from wagate.engines.neonize.host import Host as RealHost

    settings = load_settings(
        data_dir=tmp_path, CONFIG_SESSION_PHONE_CLIENT="Acme Support",
        CONFIG_SESSION_PHONE_NAME="firefox",
    )  # fmt: skip
    engine = from_settings(settings)
    try:
        host_config = engine.config.host
        assert (host_config.device_os, host_config.device_platform) == ("Acme Support", "FIREFOX")
    finally:
        await engine.close()
    props: list[dict[str, Any]] = []

    class Nz:
        class DeviceProps:
            CHROME, FIREFOX = 1, 2

            def __init__(self, **kw: Any) -> None:
                props.append(kw)

        def NewAClient(self, *a: Any, **kw: Any) -> Any:
            raise RuntimeError("no Go here")

    real = RealHost(host_config, proto_fd=-1)
    real.nz = Nz()
    with pytest.raises(RuntimeError):
        await real.op_start({"sid": "s", "epoch": 1, "db": "x"})
    assert (props[-1]["os"], props[-1]["platformType"]) == ("Acme Support", 2)


def test_a_removed_picture_frame_says_so() -> None:
    removed = inbound_event(3, {"ev": "contact", "jid": "5511@s.whatsapp.net", "removed": True})
    assert removed == ContactUpdate(3, "5511@s.whatsapp.net", picture_removed=True)
    url = "https://pps.whatsapp.net/x.jpg"
    changed = inbound_event(
        3, {"ev": "contact", "jid": "5511@s.whatsapp.net", "picture_url": url, "removed": False}
    )
    assert changed == ContactUpdate(3, "5511@s.whatsapp.net", picture_url=url)


async def test_a_picture_removal_event_becomes_a_removed_contact_frame() -> None:
    calls = Calls.__new__(Calls)  # a removal fetches nothing: no host is needed
    ev = SimpleNamespace(JID=SimpleNamespace(User="5511", Server="s.whatsapp.net"), Remove=True)
    frame = await calls.picture_event(None, ev)  # type: ignore[arg-type]
    assert frame == {
        "ev": "contact", "jid": "5511@s.whatsapp.net", "picture_url": None, "removed": True
    }  # fmt: skip
    event = inbound_event(1, frame)
    assert event == ContactUpdate(1, "5511@s.whatsapp.net", picture_removed=True)
