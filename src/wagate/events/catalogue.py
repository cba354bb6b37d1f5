"""The event catalogue: Evolution's wire names and subscription keys."""

from __future__ import annotations

# Per-instance subscription names (Evolution's EventController.events), in Evolution's order.
SUBSCRIBABLE: tuple[str, ...] = (
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_EDITED",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "PRESENCE_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "CONNECTION_UPDATE",
    "LABELS_EDIT",
    "LABELS_ASSOCIATION",
    "CALL",
    "TYPEBOT_START",
    "TYPEBOT_CHANGE_STATUS",
    "MESSAGING_HISTORY_SET",
    "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
    "STATUS_INSTANCE",
)

NOT_SENT: dict[str, str] = {
    "APPLICATION_STARTUP": "Evolution lists it and sends it from no code path either",
    "TYPEBOT_START": "the Typebot integration is not built",
    "TYPEBOT_CHANGE_STATUS": "the Typebot integration is not built",
    "CONTACTS_SET": "history contacts are sent as contacts.upsert, as Evolution does",
    "CHATS_DELETE": "no engine reports a deleted chat yet",
}
"""Names a subscription refuses (a 400 naming each): nothing in wagate sends them."""
SENT: tuple[str, ...] = tuple(name for name in SUBSCRIBABLE if name not in NOT_SENT)
"""What an empty `events` list (every event) subscribes to."""

_KNOWN = frozenset(SUBSCRIBABLE)
# Evolution's wire name groups.update normalises to GROUPS_UPDATE, but every list and env map
# says GROUP_UPDATE, so Evolution never delivers it; wagate maps it to the listed name.
_ALIASES = {"GROUPS_UPDATE": "GROUP_UPDATE"}


def unknown_events(names: list[str]) -> list[str]:
    return [name for name in names if name not in _KNOWN]


def event_key(event: str) -> str:
    """'group-participants.update' -> 'GROUP_PARTICIPANTS_UPDATE' (Evolution's normalisation)."""
    key = event.replace(".", "_").replace("-", "_").upper()
    return _ALIASES.get(key, key)


def event_kebab(event: str) -> str:
    """The byEvents URL suffix: 'connection.update' -> 'connection-update'."""
    return event.replace(".", "_").replace("-", "_").lower().replace("_", "-")


def env_flags(prefix: str, environ: dict[str, str]) -> frozenset[str]:
    """Event keys switched on by `<prefix><KEY>=true` variables (e.g. WEBHOOK_EVENTS_*)."""
    on = set()
    for name, value in environ.items():
        if name.upper().startswith(prefix) and value.strip().lower() in ("true", "1", "yes"):
            key = _ALIASES.get(name[len(prefix) :].upper(), name[len(prefix) :].upper())
            if key in _KNOWN:
                on.add(key)
    return frozenset(on)
