"""Messaging on the simulated network: delivery between accounts, receipts, presence, groups,
labels, profile and media, as `SimMessaging` (mixed into `SimSession`) and `deliver` (which
the /sim/{instance}/inbound control route uses to make a simulated contact write).

Accounts are phone numbers. An account with linked instances receives on their open sessions
(or later, when one connects); an account without any (a simulated contact) is a phone that
receives at once. Receipts flow back to the sender's sessions: SERVER_ACK when sent,
DELIVERY_ACK when a device of the recipient has it, READ when the recipient reads it (unless
its privacy turns read receipts off).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from wagate.domain.errors import BadRequest, EngineUnavailable, Forbidden, NotFound
from wagate.domain.jids import is_group
from wagate.engines.base import EngineEvent, InboundEvent
from wagate.engines.messaging import (
    MEDIA_MEMBERS,
    Call,
    ChatChange,
    ContactUpdate,
    GroupChange,
    GroupInfo,
    GroupParticipant,
    Label,
    LabelChange,
    Message,
    MessageKey,
    NumberCheck,
    Outgoing,
    Presence,
    Profile,
    Receipt,
    Sent,
    poll_option_hash,
)

if TYPE_CHECKING:
    from wagate.engines.sim.network import Account, SimNetwork

INBOX_LIMIT = 10_000
POLL_MEMBERS = ("pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3")
SENT_LIMIT = 200_000


@dataclass(slots=True)
class SimGroup:
    jid: str
    subject: str
    owner: str
    creation: int
    members: dict[str, str | None] = field(default_factory=dict)
    """Participant JID -> None, 'admin' or 'superadmin'."""
    description: str | None = None
    announce: bool = False
    restrict: bool = False
    ephemeral: int = 0
    invite: str = ""
    picture: bytes | None = None
    member_add_mode: str = "admin_add"
    """Who may add participants: admin_add or all_member_add (updateMemberAddMode)."""

    def info(self, net: SimNetwork) -> GroupInfo:
        people = []
        for jid, role in self.members.items():
            acc = net.find(jid)
            people.append(GroupParticipant(jid, role, acc.lid if acc else None))
        pic = (
            f"https://pps.whatsapp.net/sim/g/{self.jid.split('@')[0]}.jpg"
            if self.picture
            else None
        )
        return GroupInfo(
            jid=self.jid,
            subject=self.subject,
            owner=self.owner,
            creation=self.creation,
            participants=tuple(people),
            description=self.description,
            announce=self.announce,
            restrict=self.restrict,
            ephemeral=self.ephemeral,
            picture_url=pic,
        )


def new_message_id() -> str:
    """An id shaped like a WhatsApp Web one (3EB0 + 18 hex digits)."""
    return "3EB0" + secrets.token_hex(9).upper()


def _upload(net: SimNetwork, content: dict[str, Any], media: bytes) -> dict[str, Any]:
    """Keep the bytes on the simulated media server and fill the upload fields."""
    member = next((m for m in MEDIA_MEMBERS if m in content), None)
    if member is None:
        raise BadRequest("media bytes were given for a message without a media member")
    path = f"/v/t62.7118-24/sim-{secrets.token_hex(12)}.enc"
    net.media[path] = media
    net.media_bytes += len(media)
    while net.media_bytes > net.media_cap and len(net.media) > 1:
        _, old = net.media.popitem(last=False)
        net.media_bytes -= len(old)
    body = dict(content[member])
    body.update(
        url=f"https://mmg.whatsapp.net{path}?sim=1",
        directPath=path,
        mediaKey=base64.b64encode(secrets.token_bytes(32)).decode(),
        fileSha256=base64.b64encode(hashlib.sha256(media).digest()).decode(),
        fileEncSha256=base64.b64encode(secrets.token_bytes(32)).decode(),
        fileLength=str(len(media)),
        mediaKeyTimestamp=str(int(net.clock.wall())),
    )
    return {**content, member: body}


def _recipients(net: SimNetwork, sender: Account, jid: str, out: Outgoing) -> list[Account]:
    if jid == "status@broadcast":
        found = (net.find(j) for j in out.status_jids)
        return [a for a in found if a is not None and a is not sender]
    if is_group(jid):
        group = net.groups.get(jid)
        if group is None:
            raise NotFound(f"group {jid} does not exist")
        if sender.jid not in group.members:
            raise Forbidden(f"not a participant of {jid}")
        if group.announce and not group.members.get(sender.jid):
            raise Forbidden(f"only admins can send to {jid}")
        found = (net.find(j) for j in group.members)
        return [a for a in found if a is not None and a is not sender]
    account = net.find(jid)
    return [account] if account is not None and account is not sender else []


def _to(net: SimNetwork, account: Account, event: InboundEvent) -> bool:
    """Hand an event to the account's open sessions, or keep it for the next one. True when
    a device (or the phone of an account with no linked instance) has it now."""
    sessions = net.live_sessions(account)
    for session in sessions:
        session.emit_inbound(event)
    if sessions:
        return True
    if account.linked:
        if len(account.inbox) < INBOX_LIMIT:
            account.inbox.append(event)
        return False
    return True


def deliver(
    net: SimNetwork, sender: Account, out: Outgoing, from_session: Any | None = None
) -> Sent:
    """Send `out` from `sender`'s account: recipients get it, the sender gets receipts."""
    content = dict(out.content)
    if out.media is not None:
        content = _upload(net, content, out.media)
    msg_id = out.message_id or new_message_id()
    now = int(net.clock.wall())
    jid = out.jid
    target = net.find(jid) if not is_group(jid) and jid != "status@broadcast" else None
    if target is not None and jid.endswith("@lid"):
        jid = target.jid  # the chat as phone numbers, the LID as its alternative
    own_key = MessageKey(jid, True, msg_id, remote_jid_alt=target.lid if target else None)
    group = net.groups.get(jid) if is_group(jid) else None
    subject = group.subject if group is not None else None
    remember = jid != "status@broadcast"
    if remember:
        sender.past.record(Message(0, own_key, content, now, sender.push_name), subject)
    delivered = False
    for account in _recipients(net, sender, jid, out):
        if sender.jid in account.blocked:
            continue
        if is_group(jid) or jid == "status@broadcast":
            key = MessageKey(
                jid, False, msg_id, participant=sender.jid, participant_alt=sender.lid
            )
        else:
            key = direct_key(sender, False, msg_id)
        event = Message(0, key, content, now, sender.push_name)
        if remember:
            account.past.record(event, subject)
        delivered = _to(net, account, event) or delivered
    net.sent[msg_id] = (sender.number, jid)
    if len(net.sent) > SENT_LIMIT:
        net.sent.popitem(last=False)
    poll = next((content[k] for k in POLL_MEMBERS if isinstance(content.get(k), dict)), None)
    if poll is not None:
        options = tuple(str(o.get("optionName", "")) for o in poll.get("options") or ())
        net.polls[msg_id] = (options, int(poll.get("selectableOptionsCount") or 0))
        if len(net.polls) > SENT_LIMIT:
            net.polls.popitem(last=False)
    if from_session is not None:
        from_session.emit_inbound(Receipt(0, (own_key,), "SERVER_ACK"))
        if delivered:
            from_session.emit_inbound(Receipt(0, (own_key,), "DELIVERY_ACK"))
    return Sent(own_key, content, now)


def call(net: SimNetwork, caller: Account, callee: Account, video: bool) -> str:
    """`caller`'s phone calls `callee`: its linked sessions ring (an offer waits for the next
    one when none is open). Returns the call id."""
    call_id = secrets.token_hex(16).upper()
    net.calls[call_id] = (caller.number, callee.number, "offer")
    if len(net.calls) > SENT_LIMIT:
        net.calls.popitem(last=False)
    now = int(net.clock.wall())
    offline = not net.live_sessions(callee)
    _to(net, callee, Call(0, call_id, caller.jid, now, video, offline=offline))
    return call_id


def vote(net: SimNetwork, voter: Account, poll_id: str, options: Sequence[str]) -> Sent:
    """`voter`'s phone votes on a poll it can see (an empty choice withdraws its vote): the
    vote goes to the poll's chat as WhatsApp sends it (options as hashes), and the voter's
    own linked devices get it too."""
    origin, poll = net.sent.get(poll_id), net.polls.get(poll_id)
    if origin is None or poll is None:
        raise NotFound(f"no poll {poll_id} on the simulated network")
    number, chat = origin
    creator = net.accounts.get(number)
    choices, selectable = poll
    unknown = [o for o in options if o not in choices]
    if unknown:
        raise BadRequest(f"not options of the poll: {', '.join(unknown)}")
    if selectable and len(set(options)) > selectable:
        raise BadRequest(f"the poll allows {selectable} option(s)")
    if is_group(chat) or voter is creator:
        to, seen_as = chat, chat
    elif creator is not None and net.find(chat) is voter:
        to, seen_as = creator.jid, creator.jid
    else:
        raise Forbidden(f"poll {poll_id} was not sent to {voter.jid}")
    poll_key: dict[str, Any] = {"remoteJid": seen_as, "fromMe": voter is creator, "id": poll_id}
    if is_group(chat) and creator is not None and voter is not creator:
        poll_key["participant"] = creator.jid
    now_ms = int(net.clock.wall() * 1000)
    content = {
        "pollUpdateMessage": {
            "pollCreationMessageKey": poll_key,
            "vote": {"selectedOptions": [poll_option_hash(o) for o in dict.fromkeys(options)]},
            "senderTimestampMs": str(now_ms),
        }
    }
    sent = deliver(net, voter, Outgoing(to, content))
    _to(net, voter, Message(0, sent.key, sent.content, sent.timestamp, voter.push_name, "append"))
    return sent


def direct_key(other: Account, from_me: bool, msg_id: str) -> MessageKey:
    """The key of a message in a 1:1 chat with `other`, as the account on this side sees it:
    the chat as a phone number, its LID as the alternative."""
    return MessageKey(
        other.jid,
        from_me,
        msg_id,
        remote_jid_alt=other.lid,
        addressing_mode=None if from_me else "pn",
    )


def remember(
    account: Account,
    other: Account,
    content: dict[str, Any],
    timestamp: int,
    *,
    from_me: bool,
    push_name: str | None = None,
    msg_id: str | None = None,
) -> None:
    """A message of `account`'s past in its 1:1 chat with `other` (the /sim history route),
    remembered as `deliver` would have, and delivered to nobody. `push_name` renames the
    contact when it wrote the message."""
    if push_name and not from_me:
        other.push_name = push_name
    key = direct_key(other, from_me, msg_id or new_message_id())
    account.past.record(Message(0, key, content, timestamp, None if from_me else other.push_name))


class SimMessaging:
    """The `Messaging` calls of a sim session (mixed into SimSession)."""

    _net: SimNetwork
    account: Account | None
    name: str

    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    def emit_inbound(self, event: InboundEvent) -> None:
        raise NotImplementedError

    def _emit(self, event: EngineEvent | InboundEvent) -> None:
        raise NotImplementedError

    def _me(self) -> Account:
        if not self.is_open or self.account is None:
            raise EngineUnavailable("Connection Closed")
        if self._net.faults_of(self.name).socketAlreadyClosed:
            raise EngineUnavailable("Connection Closed")
        return self.account

    def _everywhere(self, account: Account, event: InboundEvent) -> None:
        """An app-state change: every device of the account hears of it."""
        _to(self._net, account, event)

    # --- messages -------------------------------------------------------------------------

    async def send(self, out: Outgoing) -> Sent:
        me = self._me()
        return deliver(self._net, me, out, self)

    async def read(self, keys: Sequence[MessageKey]) -> None:
        me = self._me()
        if me.privacy.get("readreceipts") == "none":
            return
        self._receipts(me, keys, "READ")

    async def played(self, keys: Sequence[MessageKey]) -> None:
        # WhatsApp sends played receipts whatever the read-receipts privacy says
        self._receipts(self._me(), keys, "PLAYED")

    def _receipts(self, me: Account, keys: Sequence[MessageKey], status: str) -> None:
        """Each sender of `keys` (messages `me` received) hears `status` for them."""
        for key in keys:
            origin = self._net.sent.get(key.id)
            if origin is None or key.from_me:
                continue
            number, chat = origin
            sender = self._net.accounts.get(number)
            if sender is None:
                continue
            seen_as = chat if is_group(chat) or chat == "status@broadcast" else me.jid
            back = MessageKey(
                seen_as, True, key.id, participant=me.jid if is_group(chat) else None
            )
            _to(self._net, sender, Receipt(0, (back,), status))

    async def reject_call(self, call: Call) -> None:
        me = self._me()
        placed = self._net.calls.get(call.id)
        if placed is None or placed[1] != me.number:
            raise NotFound(f"no call {call.id} to {me.jid} on the simulated network")
        self._net.calls[call.id] = (placed[0], placed[1], "rejected")

    async def chat_presence(self, jid: str, presence: str) -> None:
        me = self._me()
        if is_group(jid):
            group = self._net.groups.get(jid)
            people = [self._net.find(j) for j in group.members] if group else []
            for acc in people:
                if acc is not None and acc is not me:
                    _to(self._net, acc, Presence(0, jid, me.jid, presence))
            return
        acc = self._net.find(jid)
        if acc is not None and acc is not me:
            _to(self._net, acc, Presence(0, me.jid, me.jid, presence))

    async def check_numbers(self, jids: Sequence[str]) -> list[NumberCheck]:
        self._me()
        out = []
        for jid in jids:
            acc = self._net.find(jid)
            if acc is None:
                out.append(NumberCheck(jid, False))
            else:
                out.append(NumberCheck(acc.jid, True, acc.lid))
        return out

    async def download(self, media: dict[str, Any]) -> bytes:
        self._me()
        path = media.get("directPath")
        data = self._net.media.get(str(path)) if path else None
        if data is None:
            raise NotFound("the media is no longer on the server (or was never uploaded)")
        return data

    async def modify_chat(
        self, jid: str, *, archive: bool | None = None, unread: bool | None = None
    ) -> None:
        me = self._me()
        self._everywhere(me, ChatChange(0, jid, archived=archive, unread=unread))

    # --- profile and privacy --------------------------------------------------------------

    def _picture_url(self, acc: Account) -> str | None:
        if acc.picture is None:
            return None
        return f"https://pps.whatsapp.net/sim/{acc.number}.jpg?v={acc.picture_version}"

    async def picture_url(self, jid: str) -> str | None:
        self._me()
        acc = self._net.find(jid)
        if acc is None or acc.privacy.get("profile") == "none":
            return None
        return self._picture_url(acc)

    async def profile(self, jid: str | None) -> Profile:
        me = self._me()
        acc = me if jid is None else self._net.find(jid)
        if acc is None:
            return Profile(jid or me.jid, False)
        return Profile(acc.jid, True, acc.push_name, acc.status, self._picture_url(acc))

    async def set_profile(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        picture: bytes | None = None,
        remove_picture: bool = False,
    ) -> None:
        me = self._me()
        if name is not None:
            me.push_name = name
        if status is not None:
            me.status = status
        if picture is not None:
            me.picture, me.picture_version = picture, me.picture_version + 1
        if remove_picture:
            me.picture = None
        if name is not None or picture is not None or remove_picture:
            # the other phones on the network see the new name or picture
            change = ContactUpdate(
                0,
                me.jid,
                me.push_name,
                me.lid,
                self._picture_url(me),
                picture_removed=remove_picture and picture is None,
            )
            for session in list(self._net.sessions.values()):
                if session.is_open and session.account not in (None, me):
                    session.emit_inbound(change)

    async def privacy(self) -> dict[str, str]:
        return dict(self._me().privacy)

    async def set_privacy(self, values: dict[str, str]) -> None:
        self._me().privacy.update(values)

    async def block(self, jid: str, block: bool) -> None:
        me = self._me()
        acc = self._net.find(jid)
        target = acc.jid if acc else jid
        if block:
            me.blocked.add(target)
        else:
            me.blocked.discard(target)

    # --- groups ---------------------------------------------------------------------------

    def _group(self, jid: str) -> SimGroup:
        group = self._net.groups.get(jid)
        if group is None:
            raise NotFound(f"group {jid} does not exist")
        return group

    def _admin(self, group: SimGroup, me: Account) -> None:
        if me.jid not in group.members:
            raise Forbidden(f"not a participant of {group.jid}")
        if not group.members[me.jid]:
            raise Forbidden(f"only admins of {group.jid} can do this")

    def _tell_group(
        self, group: SimGroup, action: str, people: Sequence[str] = (), also: Sequence[str] = ()
    ) -> None:
        info = group.info(self._net)
        me = self.account
        for jid in list(group.members) + list(also):
            acc = self._net.find(jid)
            if acc is not None:
                author = me.jid if me else None
                _to(self._net, acc, GroupChange(0, info, action, tuple(people), author))

    async def group_create(
        self, subject: str, participants: Sequence[str], description: str | None
    ) -> GroupInfo:
        me = self._me()
        jid = "1203630" + "".join(secrets.choice("0123456789") for _ in range(11)) + "@g.us"
        group = SimGroup(jid, subject, me.jid, int(self._net.clock.wall()))
        group.members[me.jid] = "superadmin"
        for p in participants:
            acc = self._net.find(p)
            if acc is not None:
                group.members[acc.jid] = None
        group.description = description
        group.invite = secrets.token_urlsafe(16)[:22].replace("-", "A").replace("_", "B")
        self._net.groups[jid] = group
        self._net.invites[group.invite] = jid
        self._tell_group(group, "create")
        return group.info(self._net)

    async def group(self, jid: str) -> GroupInfo:
        me = self._me()
        group = self._group(jid)
        if me.jid not in group.members:
            raise Forbidden(f"not a participant of {jid}")
        return group.info(self._net)

    async def groups(self) -> list[GroupInfo]:
        me = self._me()
        return [g.info(self._net) for g in self._net.groups.values() if me.jid in g.members]

    async def group_participants(
        self, jid: str, action: str, participants: Sequence[str]
    ) -> list[dict[str, Any]]:
        me = self._me()
        group = self._group(jid)
        if not (action == "add" and group.member_add_mode == "all_member_add"):
            self._admin(group, me)
        elif me.jid not in group.members:
            raise Forbidden(f"not a participant of {group.jid}")
        results: list[dict[str, Any]] = []
        changed: list[str] = []
        removed: list[str] = []
        for p in participants:
            acc = self._net.find(p)
            if acc is None:
                results.append({"status": "404", "jid": p})
                continue
            member = acc.jid
            if action == "add":
                if member in group.members:
                    results.append({"status": "409", "jid": member})
                    continue
                group.members[member] = None
            elif member not in group.members:
                results.append({"status": "404", "jid": member})
                continue
            elif action == "remove":
                del group.members[member]
                removed.append(member)
            elif action == "promote":
                group.members[member] = "admin"
            elif action == "demote":
                group.members[member] = None
            results.append({"status": "200", "jid": member})
            changed.append(member)
        if changed:
            self._tell_group(group, action, changed, also=removed)
        return results

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
        me = self._me()
        group = self._group(jid)
        if me.jid not in group.members:
            raise Forbidden(f"not a participant of {jid}")
        if group.restrict or setting is not None:
            self._admin(group, me)
        if subject is not None:
            group.subject = subject
        if description is not None:
            group.description = description
        if picture is not None:
            group.picture = picture
        if setting is not None:
            group.announce = {"announcement": True, "not_announcement": False}.get(
                setting, group.announce
            )
            group.restrict = {"locked": True, "unlocked": False}.get(setting, group.restrict)
        if ephemeral is not None:
            group.ephemeral = ephemeral
        self._tell_group(group, "update")

    async def group_invite(self, jid: str, *, revoke: bool = False) -> str:
        me = self._me()
        group = self._group(jid)
        self._admin(group, me)
        if revoke:
            self._net.invites.pop(group.invite, None)
            group.invite = secrets.token_urlsafe(16)[:22].replace("-", "A").replace("_", "B")
            self._net.invites[group.invite] = jid
        return group.invite

    async def group_member_add_mode(self, jid: str, mode: str) -> None:
        me = self._me()
        group = self._group(jid)
        self._admin(group, me)
        if mode not in ("admin_add", "all_member_add"):
            raise BadRequest(f"unknown member add mode {mode!r}")
        if group.member_add_mode != mode:
            group.member_add_mode = mode
            self._tell_group(group, "update")

    async def invite_info(self, code: str) -> GroupInfo:
        self._me()
        jid = self._net.invites.get(code)
        if jid is None:
            raise NotFound("the invite code is not valid")
        return self._group(jid).info(self._net)

    async def join(self, code: str) -> str:
        me = self._me()
        jid = self._net.invites.get(code)
        if jid is None:
            raise NotFound("the invite code is not valid")
        group = self._group(jid)
        if me.jid not in group.members:
            group.members[me.jid] = None
            self._tell_group(group, "add", [me.jid])
        return jid

    async def leave(self, jid: str) -> None:
        me = self._me()
        group = self._group(jid)
        if me.jid not in group.members:
            raise Forbidden(f"not a participant of {jid}")
        del group.members[me.jid]
        self._tell_group(group, "remove", [me.jid], also=[me.jid])

    # --- labels ---------------------------------------------------------------------------

    async def labels(self) -> list[Label]:
        me = self._me()
        return [Label(i, n, c, i) for i, (n, c) in me.labels.items()]

    def sync_labels(self, account: Account, device: str) -> None:
        """App-state sync at open, as WhatsApp's: the device hears of every label created,
        changed or deleted since it last synced (all of them on a new device), one
        LabelChange each (Baileys' labels.edit)."""
        had = account.synced_labels.get(device, {})
        for i, (name, color) in account.labels.items():
            if had.get(i) != (name, color):
                self.emit_inbound(LabelChange(0, label=Label(i, name, color, i)))
        for i, (name, color) in had.items():
            if i not in account.labels:
                self.emit_inbound(LabelChange(0, label=Label(i, name, color, i, deleted=True)))
        account.synced_labels[device] = dict(account.labels)

    async def label_chat(self, jid: str, label_id: str, add: bool) -> None:
        me = self._me()
        if label_id not in me.labels:
            raise NotFound(f"label {label_id} does not exist")
        self._everywhere(me, LabelChange(0, chat=jid, label_id=label_id, added=add))


def retag(event: InboundEvent, epoch: int) -> InboundEvent:
    """The event as the session of `epoch` reports it."""
    return replace(event, epoch=epoch)
