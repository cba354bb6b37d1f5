"""Request bodies of the /group and /label routers, mirroring Evolution's schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictStr

from wagate.api.schemas.instance import Body

Participant = Annotated[StrictStr, Field(min_length=10, max_length=128)]
Participants = Annotated[list[Participant], Field(min_length=1, max_length=1024)]


class CreateGroup(Body):
    subject: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    participants: Participants
    description: Annotated[StrictStr, Field(max_length=2048)] | None = None
    promoteParticipants: StrictBool | None = None


class Subject(Body):
    subject: Annotated[StrictStr, Field(min_length=1, max_length=100)]


class Description(Body):
    description: Annotated[StrictStr, Field(max_length=2048)]


class Picture(Body):
    image: StrictStr


class SendInvite(Body):
    groupJid: StrictStr
    description: StrictStr
    numbers: Annotated[list[Participant], Field(min_length=1, max_length=256)]


class UpdateParticipant(Body):
    action: Literal["add", "remove", "promote", "demote"]
    participants: Participants


class UpdateSetting(Body):
    action: Literal["announcement", "not_announcement", "locked", "unlocked"]


class MemberAddMode(Body):
    mode: Literal["admin_add", "all_member_add"]


class Ephemeral(Body):
    expiration: Literal[0, 86400, 604800, 7776000]


class HandleLabel(Body):
    number: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    labelId: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    action: Literal["add", "remove"]
