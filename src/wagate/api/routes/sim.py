"""The simulator's control API (only mounted with WAGATE_ENGINE=sim; global key only).

These names and bodies are a contract: external checks drive the simulator through them.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path
from pydantic import Field, StrictBool, StrictStr

from wagate.api.deps import GatewayDep, GlobalKey
from wagate.api.schemas.instance import Body
from wagate.domain.close import CloseCode
from wagate.domain.errors import BadRequest, Conflict, NotFound, StoreUnavailable
from wagate.engines.messaging import Outgoing
from wagate.engines.sim import SimNetwork
from wagate.engines.sim.post import call as place_call
from wagate.engines.sim.post import deliver, remember, vote
from wagate.gateway import Gateway
from wagate.messaging import media as m
from wagate.messaging.pipeline import Lane

_log = structlog.get_logger("wagate.sim")
router = APIRouter(prefix="/sim", tags=["sim"], dependencies=[GlobalKey])
InstancePath = Annotated[str, Path(alias="instance")]


class ScanBody(Body):
    number: Annotated[str, Field(pattern=r"^\+?\d{6,20}$")] | None = None


class DisconnectBody(Body):
    """A close code (domain/close.py: 401, 405, 408, 428, 440, 515 …)."""

    code: Annotated[int, Field(ge=100, le=999)] = int(CloseCode.CONNECTION_CLOSED)


class NetworkBody(Body):
    up: StrictBool


class FaultsBody(Body):
    logoutFails: StrictBool | None = None
    socketAlreadyClosed: StrictBool | None = None
    openWithoutIdentity: StrictBool | None = None
    persistFailsOnce: StrictBool | None = None


class ContactBody(Body):
    number: Annotated[str, Field(pattern=r"^\+?\d{6,20}$")]
    pushName: Annotated[str, Field(max_length=100)] | None = None


class InboundBody(Body):
    """A simulated contact writes to the instance: text, or media (base64) with a caption."""

    from_: Annotated[str, Field(alias="from", pattern=r"^\+?\d{6,20}$")]
    text: StrictStr | None = None
    media: StrictStr | None = None
    mimetype: StrictStr | None = None
    fileName: StrictStr | None = None
    pushName: Annotated[str, Field(max_length=100)] | None = None
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{8,64}$")] | None = None
    """The message's id; a new one when not given. The same id again is the network
    delivering the message again (its acknowledgement was lost): stored and announced once."""


class CallBody(Body):
    """That number's phone calls the instance (another instance's account or a contact)."""

    from_: Annotated[str, Field(alias="from", pattern=r"^\+?\d{6,20}$")]
    video: StrictBool = False


class VoteBody(Body):
    """The phone of the account the instance is open as votes on a poll it sent or received."""

    poll: Annotated[str, Field(min_length=1, max_length=128)]
    options: Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=12)]


class PastMessage(Body):
    """One message of the account's past, in a 1:1 chat with `contact`."""

    contact: Annotated[str, Field(pattern=r"^\+?\d{6,20}$")]
    text: Annotated[str, Field(min_length=1, max_length=4_096)]
    fromMe: StrictBool = False
    timestamp: Annotated[int, Field(ge=1, le=10**11)] | None = None
    """Seconds; now when not given."""
    pushName: Annotated[str, Field(max_length=100)] | None = None
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{8,64}$")] | None = None


class HistoryBody(Body):
    """Past messages of an account, sent as a history sync to the next instance that pairs
    with it. `number` defaults to the account the instance is open as."""

    number: Annotated[str, Field(pattern=r"^\+?\d{6,20}$")] | None = None
    messages: Annotated[list[PastMessage], Field(max_length=20_000)]


def _net(gw: Gateway) -> SimNetwork:
    # The router is mounted only with the sim engine, whose network is the gateway's fault hook.
    assert isinstance(gw.faults, SimNetwork)
    return gw.faults


@router.post("/network")
async def network(gw: GatewayDep, body: NetworkBody) -> dict[str, Any]:
    _net(gw).set_up(body.up)
    return {"up": body.up}


@router.post("/{instance}/scan")
async def scan(
    gw: GatewayDep, instance: InstancePath, body: ScanBody | None = None
) -> dict[str, Any]:
    reg = gw.get(instance)
    try:
        jid = _net(gw).scan(instance, body.number if body else None)
    except LookupError as exc:
        raise Conflict(f'The "{instance}" instance has no QR code to scan: {exc}') from None
    await reg.supervisor.wait_quiescent()
    return {"scanned": True, "jid": jid, "state": reg.supervisor.external_state}


@router.post("/{instance}/disconnect")
async def disconnect(
    gw: GatewayDep, instance: InstancePath, body: DisconnectBody | None = None
) -> dict[str, Any]:
    reg = gw.get(instance)
    code = body.code if body else int(CloseCode.CONNECTION_CLOSED)
    dropped = _net(gw).disconnect(instance, code)
    await reg.supervisor.wait_quiescent()
    return {"disconnected": dropped, "code": code, "state": reg.supervisor.external_state}


@router.post("/{instance}/faults")
async def faults(gw: GatewayDep, instance: InstancePath, body: FaultsBody) -> dict[str, Any]:
    if instance not in gw.instances:
        raise NotFound(f'The "{instance}" instance does not exist')
    current = _net(gw).faults_of(instance)
    for key, value in body.model_dump(
        exclude_none=True, include=set(FaultsBody.model_fields)
    ).items():
        setattr(current, key, value)
    return {name: getattr(current, name) for name in FaultsBody.model_fields}


@router.get("/{instance}/stats")
async def stats(gw: GatewayDep, instance: InstancePath) -> dict[str, Any]:
    s = _net(gw).stats_of(instance)
    return {
        "connectAttempts": s.connect_attempts,
        "liveSessions": s.live_sessions,
        "proxy": s.proxy,
        "presence": s.presence,
    }


@router.get("/{instance}/devices")
async def devices(gw: GatewayDep, instance: InstancePath) -> dict[str, Any]:
    """The linked-devices list on the phone of the account the instance is open as (a wagate
    addition to the /sim routes): each device's name and browser as it announced them."""
    gw.get(instance)
    session = _net(gw).sessions.get(instance)
    if session is None or session.account is None:
        raise Conflict(f'The "{instance}" instance is not open on the simulated network')
    account = session.account
    return {
        "jid": account.jid,
        "devices": [
            {"id": device, "name": name, "platform": platform}
            for device, (name, platform) in account.devices.items()
        ],
    }


@router.post("/contacts")
async def contact(gw: GatewayDep, body: ContactBody) -> dict[str, Any]:
    """Register a simulated contact (a phone with no linked instance) on the network."""
    account = _net(gw).account_for(body.number)
    if body.pushName:
        account.push_name = body.pushName
    return {"jid": account.jid, "lid": account.lid, "pushName": account.push_name}


async def _acknowledged(gw: Gateway, instance: str, lane: Lane, mark: int) -> None:
    """Wait until the message is durable (its lane batch committed): the 200 is the network's
    acknowledgement, after which it will not deliver the message again. Past
    WAGATE_INBOUND_ACK_TIMEOUT_SECONDS, or when the batch failed, a 503: the network keeps the
    message and delivers it again (with its id, so it is stored and announced once)."""
    bound = gw.settings.inbound_ack_timeout
    try:
        await asyncio.wait_for(lane.durable(mark), bound)
    except TimeoutError:
        _log.warning("inbound message not durable in time", instance=instance, seconds=bound)
        raise StoreUnavailable(
            f"The message was not stored within {bound:g} s: deliver it again"
        ) from None
    except Conflict:
        raise
    except Exception as exc:
        raise StoreUnavailable(f"The message could not be stored: {exc}") from exc


@router.post("/{instance}/inbound")
async def inbound(gw: GatewayDep, instance: InstancePath, body: InboundBody) -> dict[str, Any]:
    """A simulated contact writes to the instance. Answered once the message is durable."""
    reg = gw.get(instance)
    net = _net(gw)
    session = net.sessions.get(instance)
    if session is None or session.account is None:
        raise Conflict(f'The "{instance}" instance is not connected to the simulated network')
    sender = net.account_for(body.from_)
    if body.pushName:
        sender.push_name = body.pushName
    data: bytes | None = None
    if body.media is not None:
        media = m.decode_base64(body.media, "media", gw.settings.media_max_bytes)
        data = media.data
        mime = body.mimetype or media.mimetype or "application/octet-stream"
        kind = mime.split("/", 1)[0]
        member = {"image": "imageMessage", "video": "videoMessage", "audio": "audioMessage"}
        name = member.get(kind, "documentMessage")
        part: dict[str, Any] = {"mimetype": mime}
        if body.text:
            part["caption"] = body.text
        if name == "documentMessage":
            part["fileName"] = body.fileName or "file"
        content: dict[str, Any] = {name: part}
    elif body.text:
        content = {"conversation": body.text}
    else:
        raise BadRequest("text or media is required")
    lane = gw.pipeline.lanes.get(reg.id) if gw.pipeline is not None else None
    mark = lane.accepted if lane is not None else 0
    sent = deliver(net, sender, Outgoing(session.account.jid, content, data, body.id))
    if lane is not None and lane.accepted > mark:
        await _acknowledged(gw, instance, lane, lane.accepted)
    return {"id": sent.key.id, "from": sender.jid, "lid": sender.lid, "to": session.account.jid}


@router.post("/{instance}/call")
async def call(gw: GatewayDep, instance: InstancePath, body: CallBody) -> dict[str, Any]:
    """The phone of `from` calls the account the instance is open as: the instance hears the
    offer (the CALL event) and its settings answer it (rejectCall, msgCall)."""
    gw.get(instance)
    net = _net(gw)
    session = net.sessions.get(instance)
    if session is None or session.account is None:
        raise Conflict(f'The "{instance}" instance is not open on the simulated network')
    caller = net.account_for(body.from_)
    if caller is session.account:
        raise BadRequest(f"{caller.jid} cannot call itself")
    call_id = place_call(net, caller, session.account, body.video)
    return {"id": call_id, "from": caller.jid, "to": session.account.jid, "video": body.video}


@router.get("/{instance}/calls/{callId}")
async def call_state(gw: GatewayDep, instance: InstancePath, callId: str) -> dict[str, Any]:
    """Where a call placed with /sim/{instance}/call stands: offer (ringing) or rejected."""
    gw.get(instance)
    placed = _net(gw).calls.get(callId)
    if placed is None:
        raise NotFound(f"no call {callId} on the simulated network")
    caller, callee, state = placed
    return {"id": callId, "from": caller, "to": callee, "state": state}


@router.post("/{instance}/vote")
async def poll_vote(gw: GatewayDep, instance: InstancePath, body: VoteBody) -> dict[str, Any]:
    """A vote on a poll (a wagate addition to the /sim routes): the account the instance is
    open as votes from its phone; `options: []` withdraws its vote. The poll's sender gets
    the vote as WhatsApp sends it (a pollUpdateMessage naming the options by hash)."""
    gw.get(instance)
    net = _net(gw)
    session = net.sessions.get(instance)
    if session is None or session.account is None:
        raise Conflict(f'The "{instance}" instance is not open on the simulated network')
    sent = vote(net, session.account, body.poll, body.options)
    return {"id": sent.key.id, "from": session.account.jid, "to": sent.key.remote_jid}


@router.post("/{instance}/history")
async def history(gw: GatewayDep, instance: InstancePath, body: HistoryBody) -> dict[str, Any]:
    """Add past messages to an account's memory (a wagate addition to the /sim routes): the
    next instance that pairs with the account (scan or pairing code) gets them, with
    everything else the account sent or received, as a history sync."""
    gw.get(instance)
    net = _net(gw)
    if body.number is not None:
        account = net.account_for(body.number)
    else:
        session = net.sessions.get(instance)
        if session is None or session.account is None:
            raise Conflict(
                f'The "{instance}" instance is not open on the simulated network: give "number"'
            )
        account = session.account
    now = int(net.clock.wall())
    for past in body.messages:
        remember(
            account,
            net.account_for(past.contact),
            {"conversation": past.text},
            past.timestamp or now,
            from_me=past.fromMe,
            push_name=past.pushName,
            msg_id=past.id,
        )
    return {
        "jid": account.jid,
        "added": len(body.messages),
        "remembered": len(account.past.messages),
    }
