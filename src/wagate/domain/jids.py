"""Numbers to WhatsApp JIDs, with Evolution's normalisation rules (pure).

`create_jid` follows Evolution's `createJid`: JIDs pass through; `+`, spaces, parentheses and a
`:device` suffix are stripped; 18+ digits (or a dashed id of 24+ characters) is a group;
Mexico (52 1 …) and Argentina (54 9 …) drop the mobile prefix; Brazil drops the 9th digit for
DDDs ≥ 31 when the subscriber number starts with 7, 8 or 9, as WhatsApp registers those
accounts without it. Unlike Evolution, input with no digits at all is refused (`InvalidNumber`)
instead of becoming "@s.whatsapp.net".
"""

from __future__ import annotations

import re

USER = "s.whatsapp.net"
GROUP = "g.us"
LID = "lid"
BROADCAST = "broadcast"
STATUS = "status@broadcast"
_SERVERS = ("@s.whatsapp.net", "@g.us", "@lid", "@broadcast", "@newsletter")
_BR = re.compile(r"^(\d{2})(\d{2})\d(\d{8})$")


class InvalidNumber(ValueError):
    """The input is neither a phone number nor a JID."""


def create_jid(number: str) -> str:
    """A phone number, group id or JID as the JID to address (Evolution's rules)."""
    raw = number.strip()
    if not raw:
        raise InvalidNumber("the number is empty")
    raw = re.sub(r":\d+(?=@|$)", "", raw)
    if raw.endswith(_SERVERS):
        user = raw.split("@", 1)[0]
        if not user or not re.fullmatch(r"[\w.-]+", user):
            raise InvalidNumber(f"{number!r} is not a valid JID")
        return raw
    if "@" in raw:
        raise InvalidNumber(f"{number!r} has an unknown server part")
    cleaned = re.sub(r"[+()\s]", "", raw)
    if "-" in cleaned and len(cleaned) >= 24:
        group = re.sub(r"[^\d-]", "", cleaned)
        if not re.fullmatch(r"\d+-\d+", group):
            raise InvalidNumber(f"{number!r} is not a valid group id")
        return f"{group}@{GROUP}"
    if not re.fullmatch(r"[\d-]+", cleaned):
        raise InvalidNumber(f"{number!r} is not a phone number (digits only, with country code)")
    digits = cleaned.replace("-", "")
    if len(digits) >= 18:
        return f"{digits}@{GROUP}"
    if len(digits) < 7:
        raise InvalidNumber(f"{number!r} is too short to be a phone number with country code")
    return f"{brazil_without_ninth(mexico_argentina(digits))}@{USER}"


def mexico_argentina(digits: str) -> str:
    """52 1 XXXXXXXXXX -> 52 XXXXXXXXXX and 54 9 XXXXXXXXXX -> 54 XXXXXXXXXX (13 digits)."""
    if digits[:2] in ("52", "54") and len(digits) == 13:
        return digits[:2] + digits[3:]
    return digits


def brazil_without_ninth(digits: str) -> str:
    """55 DD 9 NNNNNNNN -> 55 DD NNNNNNNN when DDD ≥ 31 and N starts with 7-9."""
    match = _BR.match(digits)
    if match is None or match.group(1) != "55":
        return digits
    if int(match.group(3)[0]) < 7 or int(match.group(2)) < 31:
        return digits
    return match.group(1) + match.group(2) + match.group(3)


def brazil_variants(jid: str) -> list[str]:
    """The JIDs a Brazilian mobile may be registered under: with and without the 9th digit."""
    user, _, server = jid.partition("@")
    if server != USER or not user.startswith("55") or len(user) not in (12, 13):
        return [jid]
    if len(user) == 13 and user[4] == "9":
        return [jid, f"{user[:4]}{user[5:]}@{server}"]
    if len(user) == 12 and user[4] in "6789":
        return [jid, f"{user[:4]}9{user[4:]}@{server}"]
    return [jid]


def is_group(jid: str) -> bool:
    return jid.endswith("@" + GROUP)


def is_user(jid: str) -> bool:
    return jid.endswith(("@" + USER, "@" + LID))


def user_of(jid: str) -> str:
    """The user part of a JID, without device."""
    return jid.split("@", 1)[0].split(":", 1)[0]
