"""The messaging commands of a host: each one a session's call into whatsmeow.

Every command names its session and epoch and carries its deadline. Content is converted
first (bad content fails with `bad` whatever the connection), then the call needs the session
connected: until whatsmeow reports Connected (and again after a disconnect) it fails at once
with `unavailable`, with no FFI call at all, so a messaging call never waits on a dial and
never reaches Go for a client it may not know. Each FFI call holds the host's read lock.

Replies carry plain fields (and bytes as the frame body for a download); received.py and
engine.py turn them into the typed values of engines/messaging.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from wagate.engines.neonize import content as c
from wagate.engines.neonize import inbound, translate

if TYPE_CHECKING:
    from wagate.engines.neonize.host import Host, Slot

T = TypeVar("T")
Reply = tuple[dict[str, Any], bytes]
UPLOAD_FIELDS = (
    ("URL", "url"),
    ("directPath", "DirectPath"),
    ("mediaKey", "MediaKey"),
    ("fileEncSHA256", "FileEncSHA256"),
    ("fileSHA256", "FileSHA256"),
    ("fileLength", "FileLength"),
)
PRIVACY_NAMES = {
    "GroupAdd": "groupadd",
    "LastSeen": "last",
    "Status": "status",
    "Profile": "profile",
    "ReadReceipts": "readreceipts",
    "CallAdd": "calladd",
    "Online": "online",
}
PRIVACY_VALUES = {"contact_blacklist": "contacts_blacklist"}
NO_PICTURE = ("item-not-found", "not-authorized", "404", "401", "hidden")
_DEADLINE: ContextVar[float] = ContextVar("deadline", default=10.0)


class CallFailed(Exception):
    """A command failed; `kind` tells the API process how to classify it."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind or translate.error_kind(message)


def jid_proto(nz: Any, value: str) -> Any:
    """A JID string (a device part is dropped) as neonize's JID protobuf."""
    user, _, server = str(value).partition("@")
    if not server:
        raise CallFailed(f"{value!r} is not a JID", "bad")
    return nz.JID(
        User=user.split(":", 1)[0], Server=server, RawAgent=0, Device=0, Integrator=0,
        IsEmpty=False,
    )  # fmt: skip


def outgoing(nz: Any, content: dict[str, Any], with_media: bool) -> tuple[Any, str | None]:
    """The protobuf to send and its media member (which the upload fills)."""
    try:
        msg = c.to_proto(content, nz.Message)
    except c.ContentError as exc:
        raise CallFailed(str(exc), "bad") from None
    member = c.member_of(content)
    if with_media and member is None:
        raise CallFailed("media bytes were given for a message without a media member", "bad")
    return msg, member if with_media else None


def fill_upload(msg: Any, member: str, upload: Any, now: int) -> None:
    """Put an upload's location and keys into the media member of `msg`."""
    body = getattr(msg, member)
    for proto_field, upload_field in UPLOAD_FIELDS:
        setattr(body, proto_field, getattr(upload, upload_field))
    body.mediaKeyTimestamp = now


def is_poll(content: dict[str, Any]) -> bool:
    return any(k.startswith("pollCreationMessage") for k in content)


class Calls:
    """The messaging commands, bound to one host."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.ops: dict[str, Callable[[Slot, dict[str, Any], bytes], Awaitable[Any]]] = {
            "send": self.send,
            "read": self.read,
            "chat_presence": self.chat_presence,
            "reject_call": self.reject_call,
            "check_numbers": self.check_numbers,
            "picture_url": self.picture_url,
            "profile": self.profile,
            "set_profile": self.set_profile,
            "privacy": self.privacy,
            "set_privacy": self.set_privacy,
            "block": self.block,
            "download": self.download,
            "group_create": self.group_create,
            "group": self.group,
            "groups": self.groups,
            "group_participants": self.group_participants,
            "group_update": self.group_update,
            "group_invite": self.group_invite,
            "invite_info": self.invite_info,
            "join": self.join,
            "leave": self.leave,
        }

    async def serve(self, head: dict[str, Any], body: bytes) -> Reply:
        """Run one messaging command; a reply's body carries bytes (downloads)."""
        op = self.ops[str(head["op"])]
        slot = self.host._live(head)
        _DEADLINE.set(float(head.get("deadline", 10.0)))  # this command's task only
        result = await op(slot, head, body)
        if isinstance(result, tuple):
            return result
        return (result or {}), b""

    @property
    def nz(self) -> Any:
        return self.host.nz

    async def ffi(self, slot: Slot, fn: Callable[[], Awaitable[T]]) -> T:
        """One call into whatsmeow for a connected session, within the command's deadline."""
        if not slot.connected:
            raise CallFailed(
                "not connected to WhatsApp (the session is connecting or lost its connection)",
                "unavailable",
            )
        deadline = _DEADLINE.get()
        try:
            return await self.host.call(fn, timeout=deadline)
        except TimeoutError:
            raise CallFailed(
                f"WhatsApp did not answer within {deadline:g} s", "unavailable"
            ) from None
        except CallFailed:
            raise
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            raise CallFailed(message, translate.call_error_kind(message)) from None

    def jid(self, value: Any) -> Any:
        return jid_proto(self.nz, str(value))

    # --- messages -------------------------------------------------------------------------

    async def send(self, slot: Slot, head: dict[str, Any], body: bytes) -> dict[str, Any]:
        content = dict(head["content"])
        msg, member = outgoing(self.nz, content, bool(body))
        to = self.jid(head["jid"])
        nz, client = self.nz, slot.client

        async def upload_and_send() -> Any:
            if member is not None:
                kind = getattr(nz.MediaType, c.MEDIA_TYPES[member])
                uploaded = await client.upload(body, kind)
                fill_upload(msg, member, uploaded, int(time.time()))
            return await client.send_message(to, msg, add_msg_secret=is_poll(content))

        resp = await self.ffi(slot, upload_and_send)
        key = {"remoteJid": inbound.jid(to), "fromMe": True, "id": str(resp.ID)}
        stamp = inbound.seconds(int(resp.Timestamp)) or int(time.time())
        return {"key": key, "content": c.to_json(msg), "timestamp": stamp}

    async def read(self, slot: Slot, head: dict[str, Any], body: bytes) -> None:
        chats: dict[tuple[str, str], list[str]] = {}
        for key in head.get("keys") or ():
            if key.get("fromMe"):
                continue
            chat = str(key["remoteJid"])
            chats.setdefault((chat, str(key.get("participant") or chat)), []).append(key["id"])
        receipt = self.nz.ReceiptType.PLAYED if head.get("played") else self.nz.ReceiptType.READ
        for (chat, sender), ids in chats.items():
            chat_jid, sender_jid = self.jid(chat), self.jid(sender)

            async def mark(ids: list[str] = ids, chat_jid: Any = chat_jid,
                           sender_jid: Any = sender_jid) -> None:  # fmt: skip
                await slot.client.mark_read(
                    *ids, chat=chat_jid, sender=sender_jid, receipt=receipt
                )

            await self.ffi(slot, mark)

    async def reject_call(self, slot: Slot, head: dict[str, Any], body: bytes) -> None:
        caller, call_id = self.jid(head["caller"]), str(head["id"])
        await self.ffi(slot, lambda: slot.client.reject_call(caller, call_id))

    async def chat_presence(self, slot: Slot, head: dict[str, Any], body: bytes) -> None:
        nz, what = self.nz, str(head["presence"])
        if what in ("available", "unavailable"):
            value = nz.Presence.AVAILABLE if what == "available" else nz.Presence.UNAVAILABLE
            await self.ffi(slot, lambda: slot.client.send_presence(value))
            return
        states = {
            "composing": (nz.ChatPresence.CHAT_PRESENCE_COMPOSING, "TEXT"),
            "recording": (nz.ChatPresence.CHAT_PRESENCE_COMPOSING, "AUDIO"),
            "paused": (nz.ChatPresence.CHAT_PRESENCE_PAUSED, "TEXT"),
        }
        if what not in states:
            raise CallFailed(f"unknown presence {what!r}", "bad")
        state, media = states[what]
        kind = getattr(nz.ChatPresenceMedia, f"CHAT_PRESENCE_MEDIA_{media}")
        to = self.jid(head["jid"])
        await self.ffi(slot, lambda: slot.client.send_chat_presence(to, state, kind))

    async def check_numbers(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        asked = [str(j) for j in head.get("jids") or ()]
        phones = {"+" + j.split("@", 1)[0]: j for j in asked if j.endswith("@s.whatsapp.net")}
        found: dict[str, dict[str, Any]] = {}
        if phones:
            answers = await self.ffi(slot, lambda: slot.client.is_on_whatsapp(*phones))
            for a in answers:
                query = str(a.Query)
                asked_as = phones.get(query) or phones.get("+" + query.lstrip("+"))
                if asked_as is not None:
                    got = inbound.jid(a.JID) if a.IsIn else asked_as
                    found[asked_as] = {"jid": got or asked_as, "exists": bool(a.IsIn)}
        checks = [found.get(j, {"jid": j, "exists": False}) for j in asked]
        return {"checks": checks}

    async def _picture(self, slot: Slot, jid: str) -> str | None:
        to = self.jid(jid)
        params = self.nz.GetProfilePictureParams(Preview=False)
        try:
            info = await self.ffi(slot, lambda: slot.client.get_profile_picture(to, params))
        except CallFailed as exc:
            if any(m in str(exc).lower() for m in NO_PICTURE):
                return None
            raise
        return str(info.URL) or None

    async def picture_event(self, slot: Slot, ev: Any) -> dict[str, Any] | None:
        """A contact's new (or removed) profile picture as a `contact` frame with its URL;
        group pictures are not contacts. A URL that cannot be had is left out (logged)."""
        who = inbound.jid(ev.JID)
        if not who or who.endswith("@g.us"):
            return None
        url: str | None = None
        if not ev.Remove:
            try:
                url = await self._picture(slot, who)
            except Exception as exc:
                logging.getLogger("wagate.neonize.host").warning(
                    "picture of %s not fetched: %r", who, exc
                )
        return {"ev": "contact", "jid": who, "picture_url": url, "removed": bool(ev.Remove)}

    async def picture_url(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        return {"url": await self._picture(slot, str(head["jid"]))}

    async def profile(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        asked = head.get("jid")
        name: str | None = None
        if asked is None:
            me = await self.ffi(slot, slot.client.get_me)
            asked, name = inbound.jid(me.JID), str(me.PushName) or None
        target = self.jid(asked)
        infos = await self.ffi(slot, lambda: slot.client.get_user_info(target))
        info = infos[0].UserInfo if len(infos) else None
        exists = info is not None and (len(info.Devices) > 0 or bool(info.Status))
        if name is None and exists:
            try:
                contact = await self.ffi(slot, lambda: slot.client.contact.get_contact(target))
                name = str(contact.PushName or contact.FullName) or None
            except CallFailed:
                name = None
        picture = await self._picture(slot, asked) if exists else None
        business = info is not None and bool(info.VerifiedName.Details.verifiedName)
        return {
            "jid": asked,
            "exists": exists or head.get("jid") is None,
            "name": name,
            "status": (str(info.Status) or None) if info is not None else None,
            "picture_url": picture,
            "is_business": business,
        }

    async def set_profile(self, slot: Slot, head: dict[str, Any], body: bytes) -> None:
        if head.get("remove_picture"):
            raise CallFailed(
                "the neonize engine cannot remove the profile picture: whatsmeow removes it when "
                "given no picture, and neonize 0.5.2's set_profile_photo always hands it the "
                "bytes it was given (empty ones are still a picture)",
                "unsupported",
            )
        client = slot.client
        if head.get("name") is not None:
            await self.ffi(slot, lambda: client.set_profile_name(str(head["name"])))
        if head.get("status") is not None:
            await self.ffi(slot, lambda: client.set_status_message(str(head["status"])))
        if body:
            await self.ffi(slot, lambda: client.set_profile_photo(body))

    async def privacy(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        settings = await self.ffi(slot, slot.client.get_privacy_settings)
        values = {}
        for field, name in PRIVACY_NAMES.items():
            number = int(getattr(settings, field))
            label = settings.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number
            if number in label and label[number].name != "UNDEFINED":
                values[name] = label[number].name.lower()
        return {"values": values}

    async def set_privacy(self, slot: Slot, head: dict[str, Any], body: bytes) -> None:
        nz = self.nz
        changes = []
        for name, value in dict(head.get("values") or {}).items():
            kind = next((t for t in nz.PrivacySettingType if t.value == name), None)
            wanted = PRIVACY_VALUES.get(str(value), str(value))
            setting = next((s for s in nz.PrivacySetting if s.value == wanted and wanted), None)
            if kind is None or setting is None:
                raise CallFailed(f"privacy setting {name}={value!r} is not known", "bad")
            changes.append((kind, setting))
        for kind, setting in changes:

            async def put(k: Any = kind, v: Any = setting) -> None:
                await slot.client.set_privacy_setting(k, v)

            await self.ffi(slot, put)

    async def block(self, slot: Slot, head: dict[str, Any], body: bytes) -> None:
        nz, to = self.nz, self.jid(head["jid"])
        action = nz.BlocklistAction.BLOCK if head.get("block") else nz.BlocklistAction.UNBLOCK
        await self.ffi(slot, lambda: slot.client.update_blocklist(to, action))

    async def download(self, slot: Slot, head: dict[str, Any], body: bytes) -> Reply:
        media = dict(head["media"])
        msg, _ = outgoing(self.nz, {c.download_member(media): media}, False)
        data = await self.ffi(slot, lambda: slot.client.download_any(msg))
        return {"size": len(data)}, bytes(data)

    # --- groups ---------------------------------------------------------------------------

    async def _group(self, slot: Slot, jid: str) -> dict[str, Any]:
        target = self.jid(jid)
        info = await self.ffi(slot, lambda: slot.client.get_group_info(target))
        return inbound.group(info)

    async def group_create(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        people = [self.jid(p) for p in head.get("participants") or ()]
        subject = str(head["subject"])
        info = await self.ffi(slot, lambda: slot.client.create_group(subject, people))
        group = inbound.group(info)
        if head.get("description"):
            gjid, text = info.JID, str(head["description"])
            await self.ffi(slot, lambda: slot.client.set_group_topic(gjid, "", "", text))
            group["description"] = text
        return {"group": group}

    async def group(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        return {"group": await self._group(slot, str(head["jid"]))}

    async def groups(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        infos = await self.ffi(slot, slot.client.get_joined_groups)
        return {"groups": [inbound.group(g) for g in infos]}

    async def group_participants(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        nz, gjid = self.nz, self.jid(head["jid"])
        action = next((a for a in nz.ParticipantChange if a.value == head.get("action")), None)
        if action is None:
            raise CallFailed(f"unknown participant action {head.get('action')!r}", "bad")
        people = [self.jid(p) for p in head.get("participants") or ()]
        changed = await self.ffi(
            slot, lambda: slot.client.update_group_participants(gjid, people, action)
        )
        return {
            "results": [
                {"status": str(int(p.Error) or 200), "jid": inbound.jid(p.JID)} for p in changed
            ]
        }

    async def group_update(self, slot: Slot, head: dict[str, Any], body: bytes) -> None:
        client, gjid = slot.client, self.jid(head["jid"])
        setting = head.get("setting")
        settings = {
            "announcement": ("set_group_announce", True),
            "not_announcement": ("set_group_announce", False),
            "locked": ("set_group_locked", True),
            "unlocked": ("set_group_locked", False),
        }
        if setting is not None and setting not in settings:
            raise CallFailed(f"unknown group setting {setting!r}", "bad")
        if head.get("subject") is not None:
            await self.ffi(slot, lambda: client.set_group_name(gjid, str(head["subject"])))
        if head.get("description") is not None:
            info = await self.ffi(slot, lambda: client.get_group_info(gjid))
            prev, text = str(info.GroupTopic.TopicID), str(head["description"])
            await self.ffi(slot, lambda: client.set_group_topic(gjid, prev, "", text))
        if body:
            await self.ffi(slot, lambda: client.set_group_photo(gjid, body))
        if setting is not None:
            method, value = settings[setting]
            await self.ffi(slot, lambda: getattr(client, method)(gjid, value))
        if head.get("ephemeral") is not None:
            timer = timedelta(seconds=int(head["ephemeral"]))
            await self.ffi(slot, lambda: client.set_disappearing_timer(gjid, timer))

    async def group_invite(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        gjid, revoke = self.jid(head["jid"]), bool(head.get("revoke"))
        link = await self.ffi(slot, lambda: slot.client.get_group_invite_link(gjid, revoke))
        return {"code": str(link).rstrip("/").rsplit("/", 1)[-1]}

    async def invite_info(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        code = str(head["code"])
        info = await self.ffi(slot, lambda: slot.client.get_group_info_from_link(code))
        return {"group": inbound.group(info)}

    async def join(self, slot: Slot, head: dict[str, Any], body: bytes) -> Any:
        code = str(head["code"])
        gjid = await self.ffi(slot, lambda: slot.client.join_group_with_link(code))
        return {"jid": inbound.jid(gjid)}

    async def leave(self, slot: Slot, head: dict[str, Any], body: bytes) -> None:
        gjid = self.jid(head["jid"])
        await self.ffi(slot, lambda: slot.client.leave_group(gjid))

    # --- events that need a call: a poll vote, a group's metadata after it changed ---------

    async def poll_vote_event(self, slot: Slot, ev: Any, frame: dict[str, Any]) -> dict[str, Any]:
        """A vote's frame with the vote decrypted (whatsmeow keeps the poll's secret): its
        options as WhatsApp names them, SHA-256 hashes. A vote that cannot be decrypted goes
        on as it came (getPollVote skips it)."""
        _DEADLINE.set(5.0)  # the session's worker task
        try:
            vote = await self.ffi(slot, lambda: slot.client.decrypt_poll_vote(ev))
        except CallFailed:
            return frame
        return inbound.with_vote(frame, [bytes(h) for h in vote.selectedOptions])

    async def group_info_event(self, slot: Slot, ev: Any) -> list[dict[str, Any]]:
        """The frames of a GroupInfoEv, with the group's metadata fetched (best effort)."""
        if not inbound.group_changes(ev):
            return []
        _DEADLINE.set(5.0)  # the session's worker task
        try:
            info = await self._group(slot, inbound.jid(ev.JID))
        except CallFailed:
            info = inbound.group_partial(ev)
        return inbound.group_events(ev, info)
