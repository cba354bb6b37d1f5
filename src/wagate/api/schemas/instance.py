"""Request bodies of the instance and settings routers, mirroring Evolution's JSON."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator
from pydantic_core import PydanticCustomError

Presence = Literal["unavailable", "available", "composing", "recording", "paused"]
NUMBER_PATTERN = r"^\d+[\.@\w-]+"
INTEGRATIONS = ("WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""NUL (PostgreSQL text refuses it) and unpaired surrogates (no UTF-8 encoding): valid JSON
escapes that no database can store, so bodies carrying them are refused with a 400."""


def unstorable_text(value: Any) -> str | None:
    """The path of the first string (key or value) no database can store, if any."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # iterative: a deeply nested body cannot exhaust the stack
        path, item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return path or "body"
        elif isinstance(item, dict):
            for key, sub in item.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and UNSTORABLE.search(key):
                    return path or "body"
                stack.append((where, sub))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", sub) for i, sub in enumerate(item))
    return None


Text = Annotated[StrictStr, Field(max_length=4096)]
"""A free-text setting: a few KB at most (a database column is not a file store)."""


class Body(BaseModel):
    """Extra properties are allowed (as Evolution), but declared ones are type-checked strictly."""

    model_config = ConfigDict(extra="allow", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        where = unstorable_text(data)
        if where is not None:
            raise PydanticCustomError(
                "text_unstorable",
                "{where} contains a NUL character or an unpaired surrogate",
                {"where": where.encode("ascii", "backslashreplace").decode()},
            )
        return data


class WebhookConfig(Body):
    """`events` is required, as Evolution's create needs it (`[]` means every event)."""

    url: StrictStr
    enabled: StrictBool | None = None
    byEvents: StrictBool | None = None
    base64: StrictBool | None = None
    headers: dict[str, Any] | None = None
    events: list[StrictStr]


class TransportConfig(Body):
    enabled: StrictBool | None = None
    events: list[StrictStr] | None = None


class PusherFields(Body):
    enabled: StrictBool
    appId: StrictStr | None = None
    key: StrictStr | None = None
    secret: StrictStr | None = None
    cluster: StrictStr | None = None
    useTLS: StrictBool | None = None
    events: list[StrictStr] | None = None


class CreateInstance(Body):
    instanceName: StrictStr | None = None
    integration: StrictStr | None = None
    token: StrictStr | None = None
    number: Annotated[str, Field(pattern=NUMBER_PATTERN, max_length=100)] | None = None
    businessId: Annotated[str, Field(max_length=100)] | None = None
    qrcode: StrictBool | None = None
    rejectCall: StrictBool | None = None
    msgCall: Text | None = None
    groupsIgnore: StrictBool | None = None
    alwaysOnline: StrictBool | None = None
    readMessages: StrictBool | None = None
    readStatus: StrictBool | None = None
    syncFullHistory: StrictBool | None = None
    wavoipToken: Text | None = None
    webhook: WebhookConfig | None = None
    websocket: TransportConfig | None = None
    rabbitmq: TransportConfig | None = None
    nats: TransportConfig | None = None
    sqs: TransportConfig | None = None
    pusher: PusherFields | None = None
    proxyHost: Text | None = None
    proxyPort: Text | None = None
    proxyProtocol: Text | None = None
    proxyUsername: Text | None = None
    proxyPassword: Text | None = None
    chatwootAccountId: Text | None = None
    chatwootToken: Text | None = None
    chatwootUrl: Text | None = None

    @property
    def wants_proxy(self) -> bool:
        """Evolution takes its proxy branch when host, port and protocol are all given."""
        return bool(self.proxyHost and self.proxyPort and self.proxyProtocol)

    def unbuilt_integrations(self) -> list[tuple[str, str]]:
        """(field, integration) for every field of an integration wagate has not built that
        carries a value (a non-empty string, `true`, a non-zero number): stored, such a field
        would be ignored, so create refuses it. Empty values (`""`, `false`, `null`) pass, as
        Evolution's own clients send them for "no Chatwoot"."""
        found: list[tuple[str, str]] = []
        for field, value in self.model_dump().items():
            integration = unbuilt_integration(field)
            if isinstance(value, dict):  # a transport block (kafka) acts only when enabled
                value = value.get("enabled")
            if integration is not None and value not in (None, "", False, 0, [], {}):
                found.append((field, integration))
        return found


UNBUILT_PREFIXES = (
    ("chatwoot", "Chatwoot"),
    ("typebot", "Typebot"),
    ("openai", "OpenAI"),
    ("dify", "Dify"),
    ("flowise", "Flowise"),
    ("evolutionbot", "Evolution Bot"),
    ("evoai", "EvoAI"),
    ("n8n", "n8n"),
    ("kafka", "Kafka"),
)
"""Integrations (and the Kafka transport) Evolution has and wagate has not built yet, by the
prefix of their create fields."""


def unbuilt_integration(field: str) -> str | None:
    """The integration a create field belongs to, if wagate has not built it."""
    low = field.lower()
    for prefix, integration in UNBUILT_PREFIXES:
        if low.startswith(prefix):
            return integration
    return None


class SetPresence(Body):
    presence: Presence


class SettingsBody(Body):
    rejectCall: StrictBool
    groupsIgnore: StrictBool
    alwaysOnline: StrictBool
    readMessages: StrictBool
    readStatus: StrictBool
    syncFullHistory: StrictBool
    msgCall: Text | None = None
    wavoipToken: Text | None = None
