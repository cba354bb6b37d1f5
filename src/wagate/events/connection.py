"""The lifecycle's announcements as Evolution's events: connection.update and qrcode.updated,
and the QR code's PNG (core.ports.Announcer over the event bus)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from wagate.core.ports import CodeView, Envelope, Subject

QR_LIMIT = {"message": "QR code limit reached, please login again", "statusCode": 500}
"""qrcode.updated's data when the QR code limit is reached (Evolution's words and code)."""


class Outlet(Protocol):
    """What the announcer needs of the event bus (events/bus.py)."""

    def envelope(
        self, instance_name: str, instance_id: str, event: str, data: Any, sender: str | None
    ) -> Envelope: ...

    async def write(self, events: Sequence[Envelope]) -> None: ...

    async def published(self, events: Sequence[Envelope]) -> None: ...


def connection_update(
    subject: Subject, state: str, reason: int, lifecycle: dict[str, Any]
) -> dict[str, Any]:
    """connection.update's data: Evolution's keys (the account's on 'open' and 'refused'),
    then wagate's additive `lifecycle` block."""
    data: dict[str, Any] = {"instance": subject.name, "state": state, "statusReason": reason}
    if state in ("open", "refused"):
        data.update(wuid=subject.sender, profileName=subject.profile_name, profilePictureUrl=None)
    data["lifecycle"] = dict(lifecycle)  # its own copy: each event is serialized on its own
    return data


STOPPED = frozenset({"logged_out", "failed"})
"""Lifecycle states after a close that does not reconnect (until the next connect)."""


def status_instance(subject: Subject, reason: int, lifecycle: dict[str, Any]) -> dict[str, Any]:
    """status.instance's data on a close that does not reconnect (Evolution's keys; the
    disconnection object as fetchInstances shows it)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "instance": subject.name,
        "status": "closed",
        "disconnectionAt": now,
        "disconnectionReasonCode": reason,
        "disconnectionObject": json.dumps({"statusCode": reason, "detail": lifecycle["detail"]}),
    }


def qrcode_updated(subject: Subject, code: CodeView) -> dict[str, Any]:
    """qrcode.updated's data for the code now served."""
    return {
        "qrcode": {
            "instance": subject.name,
            "pairingCode": code.pairing_code,
            "code": code.code,
            "base64": code.base64,
        }
    }


def qr_png(qr: str, color: str) -> str:
    """The QR code as a PNG data URI, as Evolution serves it (`base64`)."""
    import segno  # on the first QR code: servers that never pair do not load it

    return str(segno.make(qr, error="l").png_data_uri(scale=6, border=2, dark=color))


class ConnectionEvents:
    """Implements core.ports.Announcer: builds the lifecycle's events and hands them to the
    bus (`outlet`) to write and publish."""

    def __init__(self, outlet: Outlet, *, qr_color: str = "#198754") -> None:
        self._outlet = outlet
        self._qr_color = qr_color

    def connection(
        self, subject: Subject, state: str, reason: int, lifecycle: dict[str, Any]
    ) -> list[Envelope]:
        out = []
        if state == "refused":
            out.append(self._envelope(subject, "qrcode.updated", dict(QR_LIMIT)))
        if state == "close" and lifecycle.get("state") in STOPPED:
            # as Evolution on a close it does not reconnect: status, logout, then the state
            data = status_instance(subject, reason, lifecycle)
            out.append(self._envelope(subject, "status.instance", data))
            out.append(self._envelope(subject, "logout.instance", None))
        data = connection_update(subject, state, reason, lifecycle)
        out.append(self._envelope(subject, "connection.update", data))
        return out

    def code(self, subject: Subject, code: CodeView) -> list[Envelope]:
        return [self._envelope(subject, "qrcode.updated", qrcode_updated(subject, code))]

    def qr_image(self, qr: str) -> str:
        return qr_png(qr, self._qr_color)

    async def write(self, events: Sequence[Envelope]) -> None:
        await self._outlet.write(events)

    async def published(self, events: Sequence[Envelope]) -> None:
        await self._outlet.published(events)

    def _envelope(self, subject: Subject, event: str, data: Any) -> Envelope:
        return self._outlet.envelope(
            subject.name, subject.instance_id, event, data, subject.sender
        )
