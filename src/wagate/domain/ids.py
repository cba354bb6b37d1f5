"""Identifiers used across wagate."""

from __future__ import annotations

from typing import NewType

InstanceName = NewType("InstanceName", str)
InstanceId = NewType("InstanceId", str)
Jid = NewType("Jid", str)


def bare_jid(jid: str) -> Jid:
    """Strip the device part: '55119…:12@s.whatsapp.net' -> '55119…@s.whatsapp.net'."""
    user, _, server = jid.partition("@")
    user = user.split(":", 1)[0]
    return Jid(f"{user}@{server}" if server else user)


def number_of(jid: str) -> str:
    """The phone number (user part) of a JID."""
    return jid.split("@", 1)[0].split(":", 1)[0]
