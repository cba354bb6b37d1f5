"""The `Messaging` calls of a neonize session, as commands to its host (calls.py runs them).

Each command carries the session's id and epoch and its deadline; the host's reply, or its
classified error, comes back over the pipe (media bytes as the frame's body). What neonize
0.5.2 cannot do fails here with NotSupported (HTTP 501): labels, archiving a chat or marking it
unread (app-state patches: appstate.py builds whatsmeow's, but neonize's send_app_state hands
whatsmeow no collection name, measured in tests/engines/neonize/test_appstate.py), and who may
add a group's participants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from wagate.domain.errors import NotSupported
from wagate.engines.messaging import (
    Call,
    GroupInfo,
    Label,
    MessageKey,
    NumberCheck,
    Outgoing,
    Profile,
    Receipt,
    Sent,
)
from wagate.engines.neonize.received import group_of, key_of

if TYPE_CHECKING:
    from wagate.engines.base import EventSink
    from wagate.engines.neonize.pool import HostProcess
    from wagate.engines.neonize.wire import Frame


NO_APP_STATE = (
    "the neonize engine cannot {what}: that takes an app-state patch, and neonize 0.5.2 sends "
    "every patch to an app-state collection with no name (the patch's type is lost on its way "
    "to whatsmeow), which WhatsApp cannot apply"
)


class NeonizeMessaging:
    """Mixed into NeonizeSession: one host command per call."""

    sid: str
    epoch: int
    _sink: EventSink

    def _require_host(self) -> HostProcess:
        raise NotImplementedError

    def _call_timeout(self) -> float:
        raise NotImplementedError

    async def _call(self, op: str, body: bytes = b"", **fields: Any) -> Frame:
        """One command to the host, within the call deadline (the host enforces it too)."""
        host = self._require_host()
        deadline = self._call_timeout()
        return await host.request(
            op, deadline + 1.0, body, sid=self.sid, epoch=self.epoch, deadline=deadline, **fields
        )

    # --- messages -------------------------------------------------------------------------

    async def send(self, out: Outgoing) -> Sent:
        reply = await self._call(
            "send", out.media or b"", jid=out.jid, content=out.content,
            status_jids=list(out.status_jids),
        )  # fmt: skip
        head = reply.head
        sent = Sent(key_of(head["key"]), dict(head["content"]), int(head["timestamp"]))
        # whatsmeow's send returns once the server acknowledged the message
        self._sink(Receipt(self.epoch, (sent.key,), "SERVER_ACK"))
        return sent

    async def read(self, keys: Sequence[MessageKey]) -> None:
        await self._call("read", keys=[k.as_dict() for k in keys])

    async def played(self, keys: Sequence[MessageKey]) -> None:
        await self._call("read", keys=[k.as_dict() for k in keys], played=True)

    async def reject_call(self, call: Call) -> None:
        await self._call("reject_call", id=call.id, caller=call.caller)

    async def chat_presence(self, jid: str, presence: str) -> None:
        await self._call("chat_presence", jid=jid, presence=presence)

    async def check_numbers(self, jids: Sequence[str]) -> list[NumberCheck]:
        reply = await self._call("check_numbers", jids=list(jids))
        return [
            NumberCheck(str(c["jid"]), bool(c["exists"]), c.get("lid") or None)
            for c in reply.head["checks"]
        ]

    async def picture_url(self, jid: str) -> str | None:
        url = (await self._call("picture_url", jid=jid)).head.get("url")
        return str(url) if url else None

    async def profile(self, jid: str | None) -> Profile:
        h = (await self._call("profile", jid=jid)).head
        return Profile(
            str(h["jid"]),
            bool(h["exists"]),
            h.get("name") or None,
            h.get("status") or None,
            h.get("picture_url") or None,
            bool(h.get("is_business")),
        )

    async def set_profile(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        picture: bytes | None = None,
        remove_picture: bool = False,
    ) -> None:
        await self._call(
            "set_profile", picture or b"", name=name, status=status,
            remove_picture=remove_picture,
        )  # fmt: skip

    async def privacy(self) -> dict[str, str]:
        values = (await self._call("privacy")).head["values"]
        return {str(k): str(v) for k, v in values.items()}

    async def set_privacy(self, values: dict[str, str]) -> None:
        await self._call("set_privacy", values=values)

    async def block(self, jid: str, block: bool) -> None:
        await self._call("block", jid=jid, block=block)

    async def download(self, media: dict[str, Any]) -> bytes:
        return (await self._call("download", media=media)).body

    async def modify_chat(
        self, jid: str, *, archive: bool | None = None, unread: bool | None = None
    ) -> None:
        raise NotSupported(NO_APP_STATE.format(what="archive chats or mark them unread"))

    # --- groups ---------------------------------------------------------------------------

    async def group_create(
        self, subject: str, participants: Sequence[str], description: str | None
    ) -> GroupInfo:
        reply = await self._call(
            "group_create", subject=subject, participants=list(participants),
            description=description,
        )  # fmt: skip
        return group_of(reply.head["group"])

    async def group(self, jid: str) -> GroupInfo:
        return group_of((await self._call("group", jid=jid)).head["group"])

    async def groups(self) -> list[GroupInfo]:
        return [group_of(g) for g in (await self._call("groups")).head["groups"]]

    async def group_participants(
        self, jid: str, action: str, participants: Sequence[str]
    ) -> list[dict[str, Any]]:
        reply = await self._call(
            "group_participants", jid=jid, action=action, participants=list(participants)
        )
        return [dict(r) for r in reply.head["results"]]

    async def group_update(
        self,
        jid: str,
        *,
        subject: str | None = None,
        description: str | None = None,
        picture: bytes | None = None,
        setting: str | None = None,
        ephemeral: int | None = None,
    ) -> None:
        await self._call(
            "group_update", picture or b"", jid=jid, subject=subject, description=description,
            setting=setting, ephemeral=ephemeral,
        )  # fmt: skip

    async def group_invite(self, jid: str, *, revoke: bool = False) -> str:
        return str((await self._call("group_invite", jid=jid, revoke=revoke)).head["code"])

    async def group_member_add_mode(self, jid: str, mode: str) -> None:
        raise NotSupported(
            "the neonize engine cannot change who may add participants (whatsmeow has the "
            "call, neonize 0.5.2 does not expose it)"
        )

    async def invite_info(self, code: str) -> GroupInfo:
        return group_of((await self._call("invite_info", code=code)).head["group"])

    async def join(self, code: str) -> str:
        return str((await self._call("join", code=code)).head["jid"])

    async def leave(self, jid: str) -> None:
        await self._call("leave", jid=jid)

    # --- labels ---------------------------------------------------------------------------

    async def labels(self) -> list[Label]:
        raise NotSupported(
            "the neonize engine cannot list labels (neonize 0.5.2 neither reads the account's "
            "labels nor passes on their app-state events)"
        )

    async def label_chat(self, jid: str, label_id: str, add: bool) -> None:
        raise NotSupported(NO_APP_STATE.format(what="label chats"))
