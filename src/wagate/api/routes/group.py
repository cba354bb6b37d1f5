"""The group router (Evolution's /group/*): every call goes to the live session.

The group comes from `?groupJid=` (`@g.us` appended when missing), as in Evolution.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query

from wagate.api.deps import InstanceDep
from wagate.api.routes.message import MessengerDep
from wagate.api.schemas import group as s
from wagate.domain.errors import BadRequest
from wagate.messaging import content as c

router = APIRouter(prefix="/group", tags=["group"])
GroupJid = Annotated[str | None, Query(alias="groupJid", max_length=128)]
INVITE = re.compile(r"^[A-Za-z0-9]{10,32}$")


def _group(jid: str | None) -> str:
    if not jid:
        raise BadRequest(
            "The group id needs to be informed in the query", 'ex: "groupJid=120362@g.us"'
        )
    jid = jid if jid.endswith("@g.us") else f"{jid}@g.us"
    if not re.fullmatch(r"[\d-]+@g\.us", jid):
        raise BadRequest(f"groupJid: {jid!r} is not a group id")
    return jid


def _invite(code: str | None) -> str:
    if not code or not INVITE.match(code):
        raise BadRequest("The invite code needs to be informed in the query (inviteCode=...)")
    return code


@router.post("/create/{instanceName}", status_code=201)
async def create(reg: InstanceDep, ms: MessengerDep, body: s.CreateGroup) -> Any:
    jids = [ms.jid(p, f"participants[{i}]") for i, p in enumerate(body.participants)]
    info = await ms.call(reg, lambda x: x.group_create(body.subject, jids, body.description))
    if body.promoteParticipants:
        members = [p.jid for p in info.participants if p.admin is None]
        if members:
            await ms.call(reg, lambda x: x.group_participants(info.jid, "promote", members))
            info = await ms.call(reg, lambda x: x.group(info.jid))
    return info.as_dict()


@router.post("/updateGroupSubject/{instanceName}", status_code=201)
async def subject(
    reg: InstanceDep, ms: MessengerDep, body: s.Subject, group: GroupJid = None
) -> Any:
    jid = _group(group)
    await ms.call(reg, lambda x: x.group_update(jid, subject=body.subject))
    return {"update": "success"}


@router.post("/updateGroupDescription/{instanceName}", status_code=201)
async def description(
    reg: InstanceDep, ms: MessengerDep, body: s.Description, group: GroupJid = None
) -> Any:
    jid = _group(group)
    await ms.call(reg, lambda x: x.group_update(jid, description=body.description))
    return {"update": "success"}


@router.post("/updateGroupPicture/{instanceName}", status_code=201)
async def picture(
    reg: InstanceDep, ms: MessengerDep, body: s.Picture, group: GroupJid = None
) -> Any:
    jid = _group(group)
    media = await ms.load_media(reg, body.image, "image")
    await ms.call(reg, lambda x: x.group_update(jid, picture=media.data))
    return {"update": "success"}


@router.get("/findGroupInfos/{instanceName}")
async def find_group(reg: InstanceDep, ms: MessengerDep, group: GroupJid = None) -> Any:
    jid = _group(group)
    return (await ms.call(reg, lambda x: x.group(jid))).as_dict()


@router.get("/fetchAllGroups/{instanceName}")
async def fetch_all(
    reg: InstanceDep,
    ms: MessengerDep,
    get_participants: Annotated[str | None, Query(alias="getParticipants")] = None,
) -> Any:
    if get_participants not in ("true", "false"):
        raise BadRequest("The getParticipants needs to be informed in the query")
    groups = await ms.call(reg, lambda x: x.groups())
    return [g.as_dict(participants=get_participants == "true") for g in groups]


@router.get("/participants/{instanceName}")
async def participants(reg: InstanceDep, ms: MessengerDep, group: GroupJid = None) -> Any:
    jid = _group(group)
    info = await ms.call(reg, lambda x: x.group(jid))
    return {
        "participants": [{**p.as_dict(), "name": None, "imgUrl": None} for p in info.participants]
    }


@router.get("/inviteCode/{instanceName}")
async def invite_code(reg: InstanceDep, ms: MessengerDep, group: GroupJid = None) -> Any:
    jid = _group(group)
    code = await ms.call(reg, lambda x: x.group_invite(jid))
    return {"inviteUrl": f"https://chat.whatsapp.com/{code}", "inviteCode": code}


@router.get("/inviteInfo/{instanceName}")
async def invite_info(
    reg: InstanceDep,
    ms: MessengerDep,
    invite: Annotated[str | None, Query(alias="inviteCode", max_length=64)] = None,
) -> Any:
    code = _invite(invite)
    return (await ms.call(reg, lambda x: x.invite_info(code))).as_dict()


@router.get("/acceptInviteCode/{instanceName}")
async def accept_invite(
    reg: InstanceDep,
    ms: MessengerDep,
    invite: Annotated[str | None, Query(alias="inviteCode", max_length=64)] = None,
) -> Any:
    code = _invite(invite)
    jid = await ms.call(reg, lambda x: x.join(code))
    return {"accepted": True, "groupJid": jid}


@router.post("/sendInvite/{instanceName}")
async def send_invite(reg: InstanceDep, ms: MessengerDep, body: s.SendInvite) -> Any:
    jid = _group(body.groupJid)
    code = await ms.call(reg, lambda x: x.group_invite(jid))
    url = f"https://chat.whatsapp.com/{code}"
    text = f"{body.description}\n\n{url}" if body.description else url
    for number in body.numbers:
        await ms.send(reg, number, c.text(text))
    return {"send": True, "inviteUrl": url}


@router.post("/revokeInviteCode/{instanceName}", status_code=201)
async def revoke_invite(reg: InstanceDep, ms: MessengerDep, group: GroupJid = None) -> Any:
    jid = _group(group)
    code = await ms.call(reg, lambda x: x.group_invite(jid, revoke=True))
    return {"revoked": True, "inviteCode": code}


@router.post("/updateParticipant/{instanceName}", status_code=201)
async def update_participant(
    reg: InstanceDep, ms: MessengerDep, body: s.UpdateParticipant, group: GroupJid = None
) -> Any:
    jid = _group(group)
    jids = [ms.jid(p, f"participants[{i}]") for i, p in enumerate(body.participants)]
    result = await ms.call(reg, lambda x: x.group_participants(jid, body.action, jids))
    return {"updateParticipants": result}


@router.post("/updateSetting/{instanceName}", status_code=201)
async def update_setting(
    reg: InstanceDep, ms: MessengerDep, body: s.UpdateSetting, group: GroupJid = None
) -> Any:
    jid = _group(group)
    await ms.call(reg, lambda x: x.group_update(jid, setting=body.action))
    return {"updateSetting": True}


@router.post("/updateMemberAddMode/{instanceName}", status_code=201)
async def member_add_mode(
    reg: InstanceDep, ms: MessengerDep, body: s.MemberAddMode, group: GroupJid = None
) -> Any:
    jid = _group(group)
    await ms.call(reg, lambda x: x.group_member_add_mode(jid, body.mode))
    return {"update": "success", "mode": body.mode}


@router.post("/toggleEphemeral/{instanceName}", status_code=201)
async def ephemeral(
    reg: InstanceDep, ms: MessengerDep, body: s.Ephemeral, group: GroupJid = None
) -> Any:
    jid = _group(group)
    await ms.call(reg, lambda x: x.group_update(jid, ephemeral=body.expiration))
    return {"success": True}


@router.delete("/leaveGroup/{instanceName}")
async def leave(reg: InstanceDep, ms: MessengerDep, group: GroupJid = None) -> Any:
    jid = _group(group)
    await ms.call(reg, lambda x: x.leave(jid))
    return {"groupJid": jid, "leave": True}
