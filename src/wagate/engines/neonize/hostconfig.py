"""The settings a host process is launched with (kept apart so importing them loads nothing)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class HostConfig:
    """What a host is told at launch (the JSON in argv[1])."""

    workers: int = 16
    connect_grace: float = 1.0
    connect_deadline: float = 20.0
    qr_timeout: float = 85.0
    reconnect_grace: float = 30.0
    stop_deadline: float = 60.0
    device_os: str = "wagate"
    """The linked device's name on the phone (CONFIG_SESSION_PHONE_CLIENT)."""
    device_platform: str = "CHROME"
    """Its browser on the phone (CONFIG_SESSION_PHONE_NAME): a DeviceProps.PlatformType name."""
    log_level: str = "WARNING"
    ack_timeout: float = 30.0
    """How long whatsmeow's handler of a message, receipt or history sync waits for the API
    process to say it is durable (WAGATE_INBOUND_ACK_TIMEOUT_SECONDS)."""

    @classmethod
    def from_json(cls, raw: str) -> HostConfig:
        values = orjson.loads(raw) if raw else {}
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)
