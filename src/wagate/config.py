"""Settings from the environment (and `.env`), with Evolution API's variable names."""

from __future__ import annotations

import ipaddress
import os
import secrets
import ssl
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from wagate.domain.endpoints import AMQP, NATS, WEB, url_problem

if TYPE_CHECKING:
    from wagate.egress import Reach

WEAK_KEYS = {"BQYHJGJHJ", "change-me", "changeme", "apikey", "api-key", "secret", "password"}
MIN_KEY_LENGTH = 16
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
PLATFORMS = (
    "CHROME", "FIREFOX", "IE", "OPERA", "SAFARI", "EDGE", "DESKTOP", "IPAD", "ANDROID_TABLET",
    "UWP",
)  # fmt: skip
"""The browsers a linked device may be shown as (WhatsApp's DeviceProps.PlatformType)."""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EVOLUTION_LEVELS = {
    "VERBOSE": "DEBUG",
    "DEBUG": "DEBUG",
    "LOG": "INFO",
    "INFO": "INFO",
    "WARN": "WARNING",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "DARK": "DEBUG",
    "WEBHOOKS": "INFO",
    "WEBSOCKET": "INFO",
}


class SettingsError(Exception):
    """A setting is invalid; the message names the variable."""


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed_networks(text: str) -> list[IPNetwork]:
    """'127.0.0.1, 10.0.0.0/8, ::1' as networks (an address is a network of one)."""
    out: list[IPNetwork] = []
    for part in text.split(","):
        if part := part.strip():
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network") from None
    if not out:
        raise ValueError("names no IP address")
    return out


def proxy_url(
    protocol: str, host: str, port: str, username: str | None, password: str | None
) -> str:
    """A proxy as the URL the engines dial through: protocol://[user[:password]@]host:port."""
    from urllib.parse import quote

    auth = ""
    if username:
        auth = quote(username, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        auth += "@"
    return f"{protocol}://{auth}{host}:{port}"


def _env(default: Any, *names: str) -> Any:
    return Field(default, validation_alias=AliasChoices(*names))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    server_url: str | None = _env(None, "SERVER_URL")
    server_host: str = _env("127.0.0.1", "SERVER_HOST", "WAGATE_HOST")
    server_port: int = Field(8080, ge=1, le=65535, validation_alias="SERVER_PORT")
    server_name: str = _env("wagate", "SERVER_NAME")

    api_key: str | None = Field(None, validation_alias="AUTHENTICATION_API_KEY", repr=False)
    expose_in_fetch: bool = _env(False, "AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES")
    """fetchInstances shows each instance's `token`, and event envelopes carry it as `apikey`."""
    token_key: str | None = Field(None, validation_alias="WAGATE_TOKEN_KEY", repr=False)
    """The secret instance tokens are sealed under (store/tokens.py); unset: the API key."""
    disable_docs: bool = _env(False, "SERVER_DISABLE_DOCS")
    cors_origin: str | None = _env(None, "CORS_ORIGIN")
    """Origins allowed to call the API from a browser, comma-separated (`*`: any); unset: no
    CORS headers at all (same-origin only, as the Manager needs)."""
    cors_methods: str = _env("GET,POST,PUT,DELETE", "CORS_METHODS")
    cors_credentials: bool = _env(False, "CORS_CREDENTIALS")
    session_phone_client: str = Field(
        "wagate", min_length=1, max_length=64, validation_alias="CONFIG_SESSION_PHONE_CLIENT"
    )
    """The name the phone shows for the linked device (WhatsApp's DeviceProps.os)."""
    session_phone_name: str = _env("Chrome", "CONFIG_SESSION_PHONE_NAME")
    """The browser the phone shows it as (DeviceProps.platformType): Chrome, Firefox …"""
    del_temp_instances: bool = _env(False, "DEL_TEMP_INSTANCES")
    """At start-up, delete the instances that were never paired (no account, no credentials)."""

    database_provider: Literal["sqlite", "postgresql", "mysql"] = _env(
        "sqlite", "DATABASE_PROVIDER"
    )
    database_uri: str | None = Field(None, validation_alias="DATABASE_CONNECTION_URI", repr=False)
    client_name: str = _env("wagate", "DATABASE_CONNECTION_CLIENT_NAME")
    data_dir: Path = _env(Path("./data"), "WAGATE_DATA_DIR")

    # wagate has no cache Redis would earn its place in (see _no_redis): refused when enabled.
    cache_redis_enabled: bool = _env(False, "CACHE_REDIS_ENABLED")
    cache_redis_uri: str | None = Field(None, validation_alias="CACHE_REDIS_URI", repr=False)

    qrcode_limit: int = Field(30, ge=1, le=1000, validation_alias="QRCODE_LIMIT")
    qrcode_color: str = Field(
        "#198754", pattern=r"^#[0-9a-fA-F]{6}$", validation_alias="QRCODE_COLOR"
    )
    del_instance: int | None = _env(None, "DEL_INSTANCE")
    log_level: str = _env("INFO", "LOG_LEVEL")
    log_format: Literal["console", "json"] = _env("console", "LOG_FORMAT", "WAGATE_LOG_FORMAT")
    disable_manager: bool = _env(False, "SERVER_DISABLE_MANAGER")
    prometheus_metrics: bool = _env(True, "PROMETHEUS_METRICS")
    metrics_user: str | None = _env(None, "METRICS_USER")
    metrics_password: str | None = Field(None, validation_alias="METRICS_PASSWORD", repr=False)
    metrics_auth_required: bool = _env(False, "METRICS_AUTH_REQUIRED")
    metrics_allowed_ips: str | None = _env(None, "METRICS_ALLOWED_IPS")
    """Who may read /metrics: addresses or networks, comma-separated."""
    metrics_public: bool = _env(False, "WAGATE_METRICS_PUBLIC")
    """/metrics without the global key when neither Basic auth nor an IP list guards it."""
    metrics_instance_names: bool = _env(False, "WAGATE_METRICS_INSTANCE_NAMES")
    # The onWhatsApp cache (Evolution's IsOnWhatsapp): numbers found on WhatsApp are trusted
    # for this many days, and sends to them skip the engine's check (store/onwhatsapp.py).
    save_is_on_whatsapp: bool = _env(False, "DATABASE_SAVE_IS_ON_WHATSAPP")
    save_is_on_whatsapp_days: int = Field(
        7, ge=1, le=3650, validation_alias="DATABASE_SAVE_IS_ON_WHATSAPP_DAYS"
    )

    engine: Literal["sim", "neonize"] = _env("neonize", "WAGATE_ENGINE")
    neonize_shard_size: int = Field(1, ge=1, le=100, validation_alias="WAGATE_NEONIZE_SHARD_SIZE")
    neonize_recycle_after: int = Field(20, ge=1, validation_alias="WAGATE_NEONIZE_RECYCLE_AFTER")
    neonize_proxy: str | None = _env(None, "WAGATE_NEONIZE_PROXY")
    proxy_host: str | None = _env(None, "PROXY_HOST")
    proxy_port: str | None = _env(None, "PROXY_PORT")
    proxy_protocol: str | None = _env(None, "PROXY_PROTOCOL")
    proxy_username: str | None = _env(None, "PROXY_USERNAME")
    proxy_password: str | None = Field(None, validation_alias="PROXY_PASSWORD", repr=False)
    neonize_connect_deadline: float = Field(
        20.0, gt=0, le=120, validation_alias="WAGATE_NEONIZE_CONNECT_DEADLINE_SECONDS"
    )
    sim_qr_interval: float = Field(20.0, gt=0, validation_alias="WAGATE_SIM_QR_INTERVAL_SECONDS")
    connect_wait: float = Field(2.0, ge=0, le=30, validation_alias="WAGATE_CONNECT_WAIT_SECONDS")
    reconnect_initial: float = Field(
        1.0, gt=0, validation_alias="WAGATE_RECONNECT_INITIAL_SECONDS"
    )
    reconnect_max: float = Field(60.0, gt=0, validation_alias="WAGATE_RECONNECT_MAX_SECONDS")
    reconnect_jitter: float = Field(0.2, ge=0, lt=1, validation_alias="WAGATE_RECONNECT_JITTER")
    reconnect_max_failures: int = Field(10, ge=1, validation_alias="WAGATE_RECONNECT_MAX_FAILURES")
    stable_after: float = Field(60.0, gt=0, validation_alias="WAGATE_STABLE_AFTER_SECONDS")
    engine_timeout: float = Field(10.0, gt=0, validation_alias="WAGATE_ENGINE_TIMEOUT_SECONDS")
    boot_stagger: float = Field(0.2, ge=0, validation_alias="WAGATE_BOOT_STAGGER_SECONDS")
    inbound_ack_timeout: float = Field(
        30.0, gt=0, validation_alias="WAGATE_INBOUND_ACK_TIMEOUT_SECONDS"
    )

    # What the message pipeline stores (Evolution's names). Evolution defaults them to false;
    # wagate to true, which is what deployments run (Evolution's .env.example turns them on).
    save_new_message: bool = _env(True, "DATABASE_SAVE_DATA_NEW_MESSAGE")
    save_message_update: bool = _env(True, "DATABASE_SAVE_MESSAGE_UPDATE")
    save_contacts: bool = _env(True, "DATABASE_SAVE_DATA_CONTACTS")
    save_chats: bool = _env(True, "DATABASE_SAVE_DATA_CHATS")
    save_labels: bool = _env(True, "DATABASE_SAVE_DATA_LABELS")
    save_historic: bool = _env(True, "DATABASE_SAVE_DATA_HISTORIC")
    delete_message_logical: bool = _env(False, "DATABASE_DELETE_MESSAGE")
    media_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, validation_alias="WAGATE_MEDIA_MAX_BYTES"
    )
    # Request limits (api/bodyguard.py, api/server.py): checked before any work is done.
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, validation_alias="WAGATE_MAX_BODY_BYTES")
    body_timeout: float = Field(
        30.0, gt=0, le=3600, validation_alias="WAGATE_BODY_TIMEOUT_SECONDS"
    )
    header_timeout: float = Field(
        10.0, gt=0, le=600, validation_alias="WAGATE_HEADER_TIMEOUT_SECONDS"
    )
    max_requests_per_client: int = Field(
        256, ge=0, validation_alias="WAGATE_MAX_REQUESTS_PER_CLIENT"
    )
    # Request rates (api/ratelimit.py): unset or 0 is no limit.
    rate_limit_per_key: float = Field(0.0, ge=0, validation_alias="WAGATE_RATE_LIMIT_PER_KEY")
    rate_limit_sends_per_instance: float = Field(
        0.0, ge=0, validation_alias="WAGATE_RATE_LIMIT_SENDS_PER_INSTANCE"
    )
    rate_limit_burst_seconds: float = Field(
        1.0, gt=0, le=3600, validation_alias="WAGATE_RATE_LIMIT_BURST_SECONDS"
    )
    media_fetch_timeout: float = Field(
        20.0, gt=0, le=300, validation_alias="WAGATE_MEDIA_FETCH_TIMEOUT_SECONDS"
    )
    # Whether URLs a client aims (media URLs, link previews, webhooks) may reach loopback,
    # private, link-local (cloud metadata) and other non-public addresses; false refuses them
    # but the allow-list's, checked on every connection's resolved address (egress.py). True is
    # Evolution's way. The first name is the one for all of them; the second is kept.
    fetch_private_addresses: bool = _env(
        True, "WAGATE_PRIVATE_ADDRESSES", "WAGATE_FETCH_PRIVATE_ADDRESSES"
    )
    private_addresses_allowed: str | None = _env(None, "WAGATE_PRIVATE_ADDRESSES_ALLOWED")
    # The whole of a link preview (page and image); 0 turns link previews off.
    link_preview_timeout: float = Field(
        3.0, ge=0, le=60, validation_alias="WAGATE_LINK_PREVIEW_TIMEOUT_SECONDS"
    )
    ffmpeg_path: str | None = _env(None, "WAGATE_FFMPEG_PATH")
    media_convert_timeout: float = Field(
        60.0, gt=0, le=3600, validation_alias="WAGATE_MEDIA_CONVERT_TIMEOUT_SECONDS"
    )
    audio_converter_url: str | None = _env(None, "API_AUDIO_CONVERTER")
    audio_converter_key: str | None = Field(
        None, validation_alias="API_AUDIO_CONVERTER_KEY", repr=False
    )

    # Events (Evolution's names; WAGATE_* are wagate's additions). The per-event switches
    # (WEBHOOK_EVENTS_*, RABBITMQ_EVENTS_*, NATS_EVENTS_*) are read by `event_flags`.
    webhook_global_enabled: bool = _env(False, "WEBHOOK_GLOBAL_ENABLED")
    webhook_global_url: str | None = _env(None, "WEBHOOK_GLOBAL_URL")
    webhook_global_by_events: bool = _env(False, "WEBHOOK_GLOBAL_WEBHOOK_BY_EVENTS")
    webhook_global_secret: str | None = Field(
        None, validation_alias="WAGATE_WEBHOOK_GLOBAL_SECRET", repr=False
    )
    webhook_global_base64: bool = _env(False, "WAGATE_WEBHOOK_GLOBAL_BASE64")
    # PEM file of CAs that webhook receivers' certificates may chain to, besides the system's.
    webhook_errors: bool = _env(False, "WEBHOOK_EVENTS_ERRORS")
    webhook_errors_url: str | None = _env(None, "WEBHOOK_EVENTS_ERRORS_WEBHOOK")
    webhook_ca_file: str | None = _env(None, "WAGATE_WEBHOOK_CA_FILE")
    webhook_timeout_ms: int = Field(30000, ge=1, validation_alias="WEBHOOK_REQUEST_TIMEOUT_MS")
    webhook_retry_max_attempts: int = Field(
        10, ge=1, le=1000, validation_alias="WEBHOOK_RETRY_MAX_ATTEMPTS"
    )
    webhook_retry_initial: float = Field(
        5.0, gt=0, validation_alias="WEBHOOK_RETRY_INITIAL_DELAY_SECONDS"
    )
    webhook_retry_exponential: bool = _env(True, "WEBHOOK_RETRY_USE_EXPONENTIAL_BACKOFF")
    webhook_retry_max_delay: float = Field(
        300.0, gt=0, validation_alias="WEBHOOK_RETRY_MAX_DELAY_SECONDS"
    )
    webhook_retry_jitter: float = Field(
        0.2, ge=0, lt=1, validation_alias="WEBHOOK_RETRY_JITTER_FACTOR"
    )
    webhook_non_retryable: str = _env(
        "400,401,403,404,422", "WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES"
    )
    events_keep_hours: float = Field(24.0, gt=0, validation_alias="WAGATE_EVENTS_KEEP_HOURS")
    events_keep_dead_hours: float = Field(
        168.0, gt=0, validation_alias="WAGATE_EVENTS_KEEP_DEAD_HOURS"
    )
    events_batch: int = Field(500, ge=1, le=10000, validation_alias="WAGATE_EVENTS_BATCH")
    events_lanes: int = Field(64, ge=1, le=4096, validation_alias="WAGATE_EVENTS_LANES")
    websocket_enabled: bool = _env(False, "WEBSOCKET_ENABLED")
    websocket_global_events: bool = _env(False, "WEBSOCKET_GLOBAL_EVENTS")
    websocket_allowed_hosts: str = _env(
        "127.0.0.1,::1,::ffff:127.0.0.1", "WEBSOCKET_ALLOWED_HOSTS"
    )
    rabbitmq_enabled: bool = _env(False, "RABBITMQ_ENABLED")
    rabbitmq_uri: str | None = Field(None, validation_alias="RABBITMQ_URI", repr=False)
    rabbitmq_exchange_name: str = _env("evolution_exchange", "RABBITMQ_EXCHANGE_NAME")
    rabbitmq_global_enabled: bool = _env(False, "RABBITMQ_GLOBAL_ENABLED")
    rabbitmq_prefix_key: str | None = _env(None, "RABBITMQ_PREFIX_KEY")
    rabbitmq_frame_max: int = Field(8192, ge=4096, validation_alias="RABBITMQ_FRAME_MAX")
    nats_enabled: bool = _env(False, "NATS_ENABLED")
    nats_uri: str | None = Field(None, validation_alias="NATS_URI", repr=False)
    nats_global_enabled: bool = _env(False, "NATS_GLOBAL_ENABLED")
    nats_prefix_key: str | None = _env(None, "NATS_PREFIX_KEY")
    nats_exchange_name: str | None = _env(None, "NATS_EXCHANGE_NAME")
    """Refused unless unset or Evolution's default (see _nats_exchange)."""
    sqs_region: str | None = _env(None, "SQS_REGION")
    sqs_enabled: bool = _env(False, "SQS_ENABLED")
    sqs_access_key_id: str | None = Field(None, validation_alias="SQS_ACCESS_KEY_ID", repr=False)
    sqs_secret_access_key: str | None = Field(
        None, validation_alias="SQS_SECRET_ACCESS_KEY", repr=False
    )
    sqs_account_id: str | None = _env(None, "SQS_ACCOUNT_ID")
    sqs_base_url: str | None = _env(None, "SQS_BASE_URL")
    """An SQS-compatible endpoint instead of AWS's (ElasticMQ, LocalStack, moto)."""
    sqs_global_enabled: bool = _env(False, "SQS_GLOBAL_ENABLED")
    sqs_global_force_single_queue: bool = _env(False, "SQS_GLOBAL_FORCE_SINGLE_QUEUE")
    sqs_global_prefix_name: str = _env("global", "SQS_GLOBAL_PREFIX_NAME")
    sqs_max_payload_size: int = Field(
        1048576, ge=1024, le=1048576, validation_alias="SQS_MAX_PAYLOAD_SIZE"
    )
    s3_endpoint: str | None = _env(None, "S3_ENDPOINT")
    s3_enabled: bool = _env(False, "S3_ENABLED")
    s3_access_key: str | None = Field(None, validation_alias="S3_ACCESS_KEY", repr=False)
    s3_secret_key: str | None = Field(None, validation_alias="S3_SECRET_KEY", repr=False)
    s3_bucket: str = _env("evolution", "S3_BUCKET")
    s3_port: int = Field(443, ge=1, le=65535, validation_alias="S3_PORT")
    s3_use_ssl: bool = _env(True, "S3_USE_SSL")
    s3_region: str = _env("us-east-1", "S3_REGION")
    pusher_enabled: bool = _env(False, "PUSHER_ENABLED")
    pusher_global_enabled: bool = _env(False, "PUSHER_GLOBAL_ENABLED")
    pusher_global_app_id: str | None = _env(None, "PUSHER_GLOBAL_APP_ID")
    pusher_global_key: str | None = _env(None, "PUSHER_GLOBAL_KEY")
    pusher_global_secret: str | None = Field(
        None, validation_alias="PUSHER_GLOBAL_SECRET", repr=False
    )
    pusher_global_cluster: str | None = _env(None, "PUSHER_GLOBAL_CLUSTER")
    pusher_global_use_tls: bool = _env(False, "PUSHER_GLOBAL_USE_TLS")
    pusher_host: str | None = _env(None, "WAGATE_PUSHER_HOST")
    """A Pusher-protocol server instead of `api-<cluster>.pusher.com` (Soketi, a test double):
    scheme, host and port, e.g. http://127.0.0.1:6001."""
    event_switches: dict[str, bool] | None = Field(None, exclude=True)
    """Test seam: {'WEBHOOK_EVENTS_CONNECTION_UPDATE': True, …} instead of the environment."""

    @field_validator("del_instance", mode="before")
    @classmethod
    def _del_instance(cls, value: Any) -> Any:
        """DEL_INSTANCE is minutes; 'false' (or any non-number, as Evolution) disables it."""
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in ("", "false", "0", "no", "off"):
            return None
        if text.isdigit():
            return int(text)
        raise ValueError("must be a number of minutes or false")

    @field_validator("cache_redis_enabled")
    @classmethod
    def _no_redis(cls, value: bool) -> bool:
        """wagate's caches are per process by nature (connection state, fetchInstances rows,
        each read once from the database it shares) or already shared through the database
        (the onWhatsApp cache: DATABASE_SAVE_IS_ON_WHATSAPP). Redis would add a network hop
        and a second copy to keep right, so the setting is refused rather than ignored."""
        if value:
            raise ValueError(
                "wagate keeps no cache in Redis: connection state and fetchInstances are "
                "served from memory and the database, and the onWhatsApp cache lives in the "
                "database (DATABASE_SAVE_IS_ON_WHATSAPP). Set CACHE_REDIS_ENABLED=false or "
                "remove it"
            )
        return value

    @field_validator("nats_exchange_name")
    @classmethod
    def _nats_exchange(cls, value: str | None) -> str | None:
        """NATS has no exchanges: Evolution reads NATS_EXCHANGE_NAME and never uses it."""
        if value is None or value.strip() in ("", "evolution_exchange"):
            return None
        raise ValueError(
            "NATS has no exchanges: events go to the subjects <instance>.<event> and, for "
            "global events, <NATS_PREFIX_KEY>.<event> (Evolution reads this variable and never "
            "uses it). Remove it, or use NATS_PREFIX_KEY"
        )

    @field_validator("s3_enabled")
    @classmethod
    def _s3_endpoint(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not (info.data.get("s3_endpoint") or "").strip():
            raise ValueError(
                "S3_ENDPOINT is required when S3_ENABLED is true (s3.amazonaws.com, …)"
            )
        return value

    @field_validator("sqs_enabled")
    @classmethod
    def _sqs_region(cls, value: bool, info: ValidationInfo) -> bool:
        """SQS needs a region to sign its requests (AWS's, or the one SQS_BASE_URL expects)."""
        if value and not (info.data.get("sqs_region") or "").strip():
            raise ValueError("SQS_REGION is required when SQS_ENABLED is true")
        return value

    @field_validator("session_phone_name")
    @classmethod
    def _platform(cls, value: str) -> str:
        """A browser WhatsApp knows (DeviceProps.PlatformType), any case."""
        name = value.strip().upper().replace(" ", "_")
        if name not in PLATFORMS:
            raise ValueError(f"is not a browser WhatsApp knows; use one of {', '.join(PLATFORMS)}")
        return name

    @field_validator("cors_origin")
    @classmethod
    def _cors_origin(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value

    @field_validator("cors_methods")
    @classmethod
    def _cors_methods(cls, value: str) -> str:
        methods = [m.strip().upper() for m in value.split(",") if m.strip()]
        bad = [m for m in methods if m not in HTTP_METHODS]
        if bad or not methods:
            raise ValueError(
                f"names no HTTP method or an unknown one: {', '.join(bad) or value!r}"
            )
        return ",".join(methods)

    @property
    def cors_origins(self) -> list[str] | None:
        """CORS_ORIGIN as a list (None: CORS is off)."""
        if self.cors_origin is None:
            return None
        return [o.strip() for o in self.cors_origin.split(",") if o.strip()]

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> str:
        """A level name, or Evolution's list (ERROR,WARN,DEBUG,…): the most verbose wins."""
        names = [part.strip().upper() for part in str(value).split(",") if part.strip()]
        levels = []
        for name in names:
            if name not in EVOLUTION_LEVELS:
                raise ValueError(f"unknown level {name!r}; use one of {', '.join(LOG_LEVELS)}")
            levels.append(EVOLUTION_LEVELS[name])
        if not levels:
            return "INFO"
        return min(levels, key=LOG_LEVELS.index)

    @field_validator("token_key")
    @classmethod
    def _token_key(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value) < MIN_KEY_LENGTH:
            raise ValueError(f"is too short; use at least {MIN_KEY_LENGTH} random characters")
        return value

    @field_validator("ffmpeg_path", "audio_converter_url", "audio_converter_key")
    @classmethod
    def _blank_is_unset(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An empty value (Evolution's .env.example has `API_AUDIO_CONVERTER=`) is unset."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if info.field_name == "audio_converter_url":
            _target(value, WEB)
        return value

    @field_validator("webhook_global_url", "rabbitmq_uri", "nats_uri")
    @classmethod
    def _targets(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Blank is unset; else a URL of the transport's schemes (domain/endpoints.py)."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        schemes = {"rabbitmq_uri": AMQP, "nats_uri": NATS}.get(info.field_name or "", WEB)
        _target(value, schemes)
        return value

    @field_validator("private_addresses_allowed")
    @classmethod
    def _allowed(cls, value: str | None) -> str | None:
        """Blank is unset; each entry a host, host:port, URL, address or network."""
        if value is None or not value.strip():
            return None
        from wagate.egress import parse_allowed

        parse_allowed(value)
        return value

    @property
    def reach(self) -> Reach:
        """Where connections a client aims may go (egress.py)."""
        from wagate.egress import OPEN, parse_allowed

        if self.fetch_private_addresses:
            return OPEN
        return parse_allowed(self.private_addresses_allowed or "")

    @property
    def global_proxy(self) -> str | None:
        """Evolution's PROXY_* as a URL (port 80 and http when not given): the proxy of every
        instance that has none of its own."""
        if not self.proxy_host:
            return None
        return proxy_url(
            self.proxy_protocol or "http",
            self.proxy_host,
            self.proxy_port or "80",
            self.proxy_username,
            self.proxy_password,
        )

    @field_validator("webhook_errors_url")
    @classmethod
    def _errors_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("is not an http:// or https:// URL")
        return value or None

    @field_validator("webhook_ca_file")
    @classmethod
    def _loadable_ca_file(cls, value: str | None) -> str | None:
        """Blank is unset; a file that is not PEM certificates stops start-up here."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        try:
            ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load CA certificates from {value!r}: {exc}") from None
        return value

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value in WEAK_KEYS or len(value) < MIN_KEY_LENGTH:
            raise ValueError(
                f"is guessable; use at least {MIN_KEY_LENGTH} random characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return value

    @field_validator("metrics_auth_required")
    @classmethod
    def _metrics_auth(cls, value: bool, info: ValidationInfo) -> bool:
        """METRICS_AUTH_REQUIRED needs both credentials (Evolution answers 500 at scrape time)."""
        if value and not (info.data.get("metrics_user") and info.data.get("metrics_password")):
            raise ValueError("needs METRICS_USER and METRICS_PASSWORD to be set")
        return value

    @field_validator("metrics_allowed_ips")
    @classmethod
    def _metrics_ips(cls, value: str | None) -> str | None:
        """IP addresses or CIDR networks, comma-separated; blank means no allow-list."""
        if value is None or not value.strip():
            return None
        allowed_networks(value)
        return value

    @property
    def metrics_networks(self) -> list[IPNetwork] | None:
        """METRICS_ALLOWED_IPS parsed (None: every address may read /metrics)."""
        return allowed_networks(self.metrics_allowed_ips) if self.metrics_allowed_ips else None

    @field_validator("webhook_non_retryable")
    @classmethod
    def _codes(cls, value: str) -> str:
        """A comma-separated list of HTTP status codes."""
        parse_codes(value)
        return value

    @property
    def public_url(self) -> str:
        return self.server_url or f"http://{self.server_host}:{self.server_port}"

    def event_flags(self, prefix: str) -> dict[str, str]:
        """Every `<prefix>*` variable (WEBHOOK_EVENTS_ …) from the environment and `.env`."""
        if self.event_switches is not None:
            switches = self.event_switches.items()
            return {k: str(v).lower() for k, v in switches if k.startswith(prefix)}
        from dotenv import dotenv_values

        found = {k: v or "" for k, v in dotenv_values(".env").items() if k.startswith(prefix)}
        found.update({k: v for k, v in os.environ.items() if k.startswith(prefix)})
        return found


def _target(url: str, schemes: tuple[str, ...]) -> None:
    if (why := url_problem(url, "the URL", schemes)) is not None:
        raise ValueError(why)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation errors into one message naming each variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _field_by_alias(alias: str) -> FieldInfo | None:
    for info in Settings.model_fields.values():
        names = info.validation_alias
        choices = names.choices if isinstance(names, AliasChoices) else [names]
        if alias in choices:
            return info
    return None


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        info = Settings.model_fields.get(field) or _field_by_alias(field)
        alias = info.validation_alias if info else None
        if isinstance(alias, AliasChoices):
            env = str(alias.choices[0])
        elif isinstance(alias, str):
            env = alias
        else:
            env = field.upper()
        shown = "<hidden>" if info is not None and not info.repr else repr(err.get("input"))
        lines.append(f"Invalid setting {env}={shown}: {err['msg']}")
    return "\n".join(lines)


def resolve_api_key(settings: Settings) -> tuple[str, bool]:
    """The global key: AUTHENTICATION_API_KEY, else one generated once and kept in the data dir.

    Returns (key, generated_now)."""
    if settings.api_key:
        return settings.api_key, False
    path = settings.data_dir / "api-key"
    if path.exists():
        key = path.read_text().strip()
        if len(key) >= MIN_KEY_LENGTH:
            return key, False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key, True


def parse_codes(text: str) -> frozenset[int]:
    """'400,401, 403' -> {400, 401, 403}; raises ValueError on anything else."""
    codes = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        code = int(part)
        if not 100 <= code <= 599:
            raise ValueError(f"{code} is not an HTTP status code")
        codes.add(code)
    return frozenset(codes)
