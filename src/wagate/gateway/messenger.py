"""The messaging operations the /message, /chat, /group and /label routes call.

Every engine call needs the instance open (else a 400 naming its state, never a hang) and
runs under the engine deadline (WAGATE_ENGINE_TIMEOUT_SECONDS; 409 when it passes). Numbers
become JIDs by Evolution's rules and are checked on WhatsApp before a send (400 with
Evolution's `{jid, exists: false, number}`).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog

from wagate.domain.errors import (
    BadRequest,
    Conflict,
    EngineAuthFailed,
    EngineError,
    EngineUnavailable,
    NotFound,
    UpstreamFailed,
)
from wagate.domain.ids import bare_jid
from wagate.domain.jids import InvalidNumber, brazil_variants, create_jid, is_group
from wagate.engines.messaging import (
    MessageKey,
    Messaging,
    NumberCheck,
    Outgoing,
    Sent,
    messaging_of,
)
from wagate.gateway import Gateway, Registered
from wagate.messaging import content as c
from wagate.messaging import media as media_input
from wagate.messaging.pipeline import Lane, Pending, Pipeline
from wagate.messaging.preview import Previewer
from wagate.messaging.raw import content_type, media_member, media_type
from wagate.store import messages as db
from wagate.store.messages import MessageStore
from wagate.store.objects import file_name
from wagate.store.onwhatsapp import Known, OnWhatsappCache

_log = structlog.get_logger("wagate.messaging")
T = TypeVar("T")
PRESENCE_CHUNK = 20.0
MAX_DELAY_MS = 300_000


def with_context(content: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Attach contextInfo (quote, mentions) to the content's member; text becomes extended."""
    if not context:
        return content
    if "conversation" in content:
        rest = {k: v for k, v in content.items() if k != "conversation"}
        text = {"text": content["conversation"], "contextInfo": context}
        return {"extendedTextMessage": text, **rest}
    kind = content_type(content)
    member = content.get(kind)
    if not isinstance(member, dict):
        return content
    merged = {**(member.get("contextInfo") or {}), **context}
    return {**content, kind: {**member, "contextInfo": merged}}


class Messenger:
    def __init__(
        self,
        gw: Gateway,
        pipeline: Pipeline,
        store: MessageStore,
        numbers: OnWhatsappCache | None = None,
    ) -> None:
        self.gw = gw
        self.pipeline = pipeline
        self.store = store
        self.previews = Previewer(
            gw.settings.link_preview_timeout,
            allow_private=gw.settings.reach,
        )
        self.numbers = numbers
        """The onWhatsApp cache (None unless DATABASE_SAVE_IS_ON_WHATSAPP)."""

    # --- the live session -------------------------------------------------------------------

    def live(self, reg: Registered) -> Messaging:
        sup = reg.supervisor
        session = sup.live_session()
        if session is None:
            raise BadRequest(
                f'The "{reg.name}" instance is not connected (state: {sup.external_state})'
            )
        return messaging_of(session, self.gw.engine.name)

    async def call(self, reg: Registered, fn: Callable[[Messaging], Awaitable[T]]) -> T:
        """One engine call, bounded by the engine deadline, errors classified."""
        m = self.live(reg)
        try:
            return await asyncio.wait_for(fn(m), self.gw.timing.engine_call)
        except TimeoutError:
            raise Conflict(f'The "{reg.name}" instance did not answer in time') from None
        except EngineUnavailable as exc:
            raise BadRequest(f'The "{reg.name}" instance is not connected: {exc}') from None
        except EngineAuthFailed as exc:
            raise BadRequest(
                f'The "{reg.name}" instance\'s credentials were rejected; connect and pair '
                f"again: {exc}"
            ) from None
        except EngineError as exc:
            raise UpstreamFailed(f'The "{reg.name}" instance\'s engine failed: {exc}') from None

    async def load_media(self, reg: Registered, value: str, field: str) -> media_input.Media:
        """A route's media field (URL or base64), once the instance is known to be open: the
        size cap, the fetch deadline and the private-address policy of the settings."""
        self.live(reg)
        st = self.gw.settings
        proxy = await self.gw.proxy_of(reg.id) if media_input.is_url(value.strip()) else None
        if proxy is not None and not proxy.startswith(("http://", "https://")):
            raise BadRequest(
                f"{field}: the instance's proxy is {proxy.split(':', 1)[0]}; media URLs are "
                "fetched through http or https proxies only: give the media as base64"
            )
        return await media_input.load(
            value,
            field,
            st.media_max_bytes,
            st.media_fetch_timeout,
            allow_private=st.reach,
            proxy=proxy,
        )

    def own_jid(self, reg: Registered) -> str | None:
        jid = reg.supervisor.inst.jid
        return bare_jid(jid) if jid else None

    def lane(self, reg: Registered) -> Lane:
        """The instance's message lane. An instance deleted while a send waited (for a link
        preview, a number check) has none any more: 404; nor has any once the server began
        to stop: 409."""
        if self.gw.by_id.get(reg.id) is not reg:
            raise NotFound(f'The "{reg.name}" instance does not exist')
        lane = self.pipeline.lanes.get(reg.id)
        if lane is None:
            raise Conflict(f'The "{reg.name}" instance is stopping')
        return lane

    # --- numbers ----------------------------------------------------------------------------

    @staticmethod
    def jid(number: str, field: str = "number") -> str:
        try:
            return create_jid(number)
        except InvalidNumber as exc:
            raise BadRequest(f"{field}: {exc}") from None

    async def recipient(self, reg: Registered, number: str, field: str = "number") -> str:
        """The JID to send to: groups, LIDs and broadcasts as given; phone numbers only when
        they are on WhatsApp (both Brazilian variants are tried)."""
        jid = self.jid(number, field)
        if is_group(jid) or not jid.endswith("@s.whatsapp.net"):
            return jid
        (check,) = await self.on_whatsapp(reg, [jid])
        if check.exists:
            return check.jid
        raise BadRequest({"jid": jid, "exists": False, "number": number})

    async def whatsapp_numbers(self, reg: Registered, numbers: Sequence[str]) -> list[Any]:
        jids = [self.jid(number, f"numbers[{i}]") for i, number in enumerate(numbers)]
        users = [j for j in jids if not is_group(j)]
        checks = dict(zip(users, await self.on_whatsapp(reg, users), strict=True))
        out: list[dict[str, Any]] = []
        for number, jid in zip(numbers, jids, strict=True):
            hit = checks.get(jid)
            if hit is None or not hit.exists:
                out.append({"jid": jid, "exists": False, "number": number})
                continue
            row: dict[str, Any] = {"jid": hit.jid, "exists": True, "number": number}
            if hit.lid:
                row["lid"] = hit.lid
            out.append(row)
        return out

    async def on_whatsapp(self, reg: Registered, jids: Sequence[str]) -> list[NumberCheck]:
        """Whether each JID is on WhatsApp (as the JID WhatsApp knows, with its LID), in
        order. Phone numbers try both Brazilian variants. With the onWhatsApp cache on, a
        fresh entry answers without the engine; the others are asked in one engine call, and
        what it confirms is remembered (an expired entry is so refreshed).

        Only "yes" is cached, as Evolution does: a number that is not on WhatsApp today may
        register tomorrow, and a remembered "no" would refuse sends to it for days. An expired
        entry the engine no longer confirms is dropped."""
        variants = [brazil_variants(j) for j in jids]
        known = await self._cached([v for vs in variants for v in vs])
        answers: dict[int, NumberCheck] = {}
        for i, vs in enumerate(variants):
            hit = next((known[v] for v in vs if v in known and known[v].fresh), None)
            if hit is not None:
                answers[i] = NumberCheck(hit.jid, True, hit.lid)
        ask = [i for i in range(len(jids)) if i not in answers]
        if ask:
            flat = [v for i in ask for v in variants[i]]
            checks = iter(await self.call(reg, lambda m: m.check_numbers(flat)))
            confirmed: list[NumberCheck] = []
            denied: list[str] = []
            for i in ask:
                group = [next(checks, None) for _ in variants[i]]
                yes = next((c for c in group if c is not None and c.exists), None)
                answers[i] = yes or NumberCheck(jids[i], False)
                if yes is not None:
                    confirmed.append(yes)
                else:
                    denied.extend(v for v in variants[i] if v in known)
            await self._remember(confirmed, denied)
        return [answers[i] for i in range(len(jids))]

    async def _cached(self, jids: Sequence[str]) -> dict[str, Known]:
        """The cache's entries of these JIDs (none when it is off or cannot be read: the
        cache only saves engine calls)."""
        if self.numbers is None or not jids:
            return {}
        try:
            return await self.numbers.find(jids)
        except Exception as exc:
            _log.warning("onWhatsApp cache read failed", error=repr(exc))
            return {}

    async def _remember(self, confirmed: Sequence[NumberCheck], denied: Sequence[str]) -> None:
        """Cache the engine's "yes" answers (phone numbers only), drop the entries it denied."""
        if self.numbers is None:
            return
        entries = [(c.jid, c.lid) for c in confirmed if c.jid.endswith("@s.whatsapp.net")]
        try:
            await self.numbers.save(entries)
            await self.numbers.forget(denied)
        except Exception as exc:
            _log.warning("onWhatsApp cache write failed", error=repr(exc))

    # --- sending ----------------------------------------------------------------------------

    async def quoted_context(self, reg: Registered, quoted: dict[str, Any]) -> dict[str, Any]:
        key = quoted.get("key") or {}
        msg_id = str(key.get("id") or "")
        message = quoted.get("message")
        remote = key.get("remoteJid")
        from_me = bool(key.get("fromMe"))
        participant = key.get("participant")
        if not message:
            row = await self.store.message_by_key(reg.id, msg_id)
            if row is None:
                raise BadRequest(f'quoted.key.id: message "{msg_id}" not found')
            message, remote = row.message, remote or row.remote_jid
            if "conversation" in message:  # a stored text quoted as text (its preview not)
                message = {k: v for k, v in message.items() if k != "extendedTextMessage"}
            from_me, participant = row.from_me, participant or row.participant
        who = participant or (self.own_jid(reg) if from_me else remote)
        return {"stanzaId": msg_id, "participant": who, "quotedMessage": message}

    async def typing(self, reg: Registered, jid: str, delay_ms: int, presence: str) -> None:
        """Evolution's `delay`: composing (or recording) for the delay, then paused."""
        left = delay_ms / 1000
        while left > 0:
            await self.call(reg, lambda m: m.chat_presence(jid, presence))
            step = min(left, PRESENCE_CHUNK)
            await self.gw.clock.sleep(step)
            left -= step
        await self.call(reg, lambda m: m.chat_presence(jid, "paused"))

    async def send(
        self,
        reg: Registered,
        number: str,
        content: dict[str, Any],
        *,
        media: bytes | None = None,
        delay: int | None = None,
        presence: str = "composing",
        quoted: dict[str, Any] | None = None,
        mentioned: Sequence[str] | None = None,
        everyone: bool = False,
        status_jids: Sequence[str] = (),
        event: str = "send.message",
        jid: str | None = None,
        store: bool = True,
        link_preview: bool = False,
    ) -> dict[str, Any]:
        """Send and store one message; returns its messageRaw (after it was stored).

        With `link_preview`, a text's first link is previewed (messaging/preview.py); the
        page is fetched while the number is checked and the typing delay runs."""
        self.live(reg)
        text = content.get("conversation")
        preview = self.previews.start(text) if link_preview and isinstance(text, str) else None
        if jid is None:
            jid = await self.recipient(reg, number)
        context: dict[str, Any] = {}
        if quoted:
            context.update(await self.quoted_context(reg, quoted))
        mentions = [self.jid(n, f"mentioned[{i}]") for i, n in enumerate(mentioned or ())]
        if everyone and is_group(jid):
            group = await self.call(reg, lambda m: m.group(jid))
            mentions = [p.jid for p in group.participants]
        if mentions:
            context["mentionedJid"] = mentions
        if delay:
            await self.typing(reg, jid, delay, presence)
        if preview is not None:  # a send that failed above leaves it to finish (and be cached)
            content = c.with_preview(content, await preview)
        content = with_context(content, context)
        shown = await self.media_base64(reg, content, media)
        loop = asyncio.get_running_loop()
        pending = Pending(
            loop.create_future(),
            loop.create_future(),
            reg.supervisor.profile_name,
            event,
            store,
            shown,
        )
        self.lane(reg).put(pending)  # its place in the lane, before any receipt of it
        out = Outgoing(jid, content, media, status_jids=tuple(status_jids))
        try:
            sent = await self.call(reg, lambda m: m.send(out))
        except BaseException:
            pending.sent.cancel()
            pending.stored.cancel()  # nobody waits for it
            raise
        if media is not None and self.pipeline.objects is not None and not pending.sent.done():
            pending.media_url = await self.media_copy(reg, sent, media)
        if not pending.sent.done():  # else the lane stopped waiting: `stored` says why
            pending.sent.set_result(sent)
        return await pending.stored

    async def media_copy(self, reg: Registered, sent: Sent, media: bytes) -> str | None:
        """Store a sent media in S3 under Evolution's key for sends
        (`<instance id>/<remote jid>/<message id>/<media type>/<file name>`); its URL, or None
        (logged) when the store fails or takes longer than the engine's deadline: the send
        is stored and announced without it."""
        objects = self.pipeline.objects
        member = media_member(sent.content)
        if objects is None or member is None:
            return None
        name = (
            f"{reg.id}/{sent.key.remote_jid}/{sent.key.id}/{media_type(sent.content)}/"
            f"{file_name(member, sent.key.id)}"
        )
        mimetype = str(member.get("mimetype") or "application/octet-stream").split(";")[0]
        try:
            return await asyncio.wait_for(
                objects.put(name, media, mimetype.strip()), self.gw.settings.engine_timeout
            )
        except Exception as exc:
            _log.warning("sent media not stored in S3", instance=reg.name, error=repr(exc))
            return None

    async def media_base64(
        self, reg: Registered, content: dict[str, Any], media: bytes | None
    ) -> str | None:
        """The sent media as the event's `message.base64` when the webhook wants it (as
        Evolution does for send.message)."""
        if media is None or len(media) > self.pipeline.base64_cap(content):
            return None
        try:
            wanted = await self.pipeline.wants_base64(reg.id)
        except Exception as exc:  # the send must not fail for it: the event goes without
            _log.warning("webhook base64 setting not read", instance=reg.name, error=repr(exc))
            return None
        return base64.b64encode(media).decode() if wanted else None

    async def read(self, reg: Registered, keys: Sequence[MessageKey]) -> None:
        await self.call(reg, lambda m: m.read(keys))

    async def forget_message(self, reg: Registered, key_id: str) -> None:
        """After a delete for everyone: the row is removed, or marked (DATABASE_DELETE_MESSAGE)."""
        logical = self.gw.settings.delete_message_logical
        await self.store.run(db.mark_deleted(reg.id, key_id, logical))

    async def edited(self, reg: Registered, key_id: str, content: dict[str, Any]) -> None:
        if self.gw.settings.save_new_message:
            await self.store.run(db.edit_message(reg.id, key_id, content))
