"""GET /metrics: Prometheus text format (PROMETHEUS_METRICS, optional IP allow-list and Basic
auth). With neither, and unless WAGATE_METRICS_PUBLIC=true, the global key is required (the
`apikey` header or `Authorization: Bearer <key>`); instance names are shown only with
WAGATE_METRICS_INSTANCE_NAMES=true."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wagate import __version__
from wagate.config import IPNetwork, Settings
from wagate.domain.errors import Forbidden, Unauthorized
from wagate.gateway import Gateway
from wagate.observability import metrics

router = APIRouter(tags=["metrics"])


def install(app: FastAPI, settings: Settings) -> metrics.LifecycleMetrics:
    """Give the app its registry, the HTTP wrapper and the route. Returns the lifecycle
    observer for the lifespan to attach to the gateway once it exists."""
    observer = metrics.LifecycleMetrics()

    def rows() -> list[metrics.InstanceRow]:
        gw: Gateway | None = getattr(app.state, "gateway", None)
        if gw is None:
            return []
        return [
            (r.name, r.integration, r.supervisor.inst.state.value) for r in gw.instances.values()
        ]

    info = {
        "version": __version__,
        "clientName": settings.client_name,
        "serverUrl": settings.public_url,
    }

    def backlogs() -> list[tuple[str, int]]:
        gw: Gateway | None = getattr(app.state, "gateway", None)
        if gw is None or gw.pipeline is None:
            return []
        return list(gw.pipeline.consumers.backlogs())

    app.state.metrics_registry = metrics.build_registry(
        metrics.InstancesCollector(rows, info, settings.metrics_instance_names),
        metrics.ConsumersCollector(backlogs),
    )
    if settings.prometheus_metrics:
        app.add_middleware(metrics.HttpMetrics)
        app.include_router(router)
    return observer


def attach(gw: Gateway, observer: metrics.LifecycleMetrics) -> None:
    """Feed the observer from the gateway's persisted state changes and its events."""
    gw.status_listeners.append(observer.on_status)
    gw.bus.subscribe(observer.on_event)


def _check_basic(request: Request, settings: Settings) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized()
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized() from None
    ok_user = hmac.compare_digest(user.encode(), (settings.metrics_user or "").encode())
    ok_pass = hmac.compare_digest(password.encode(), (settings.metrics_password or "").encode())
    if not (ok_user and ok_pass):
        raise Unauthorized()


def _check_key(request: Request, gw: Gateway) -> None:
    """The global key, as `apikey` or as a bearer token (what Prometheus' `authorization`
    setting sends)."""
    key = request.headers.get("apikey")
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    if key is None or not hmac.compare_digest(key.encode(), gw.api_key.encode()):
        raise Unauthorized()


def _check_ip(request: Request, networks: list[IPNetwork]) -> None:
    """METRICS_ALLOWED_IPS: the peer's address must be in one of the networks. An IPv4 peer
    seen on a dual-stack socket (::ffff:10.0.0.5) also counts as its IPv4 address, which
    Evolution's exact string match refuses."""
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:  # no peer address (a Unix socket): not on the list
        raise Forbidden("Forbidden: IP not allowed") from None
    seen_as = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        seen_as.append(ip.ipv4_mapped)
    if not any(a in net for a in seen_as for net in networks):
        raise Forbidden("Forbidden: IP not allowed")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def scrape(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    networks = gw.settings.metrics_networks
    if networks is not None:  # before the credentials, as Evolution
        _check_ip(request, networks)
    if gw.settings.metrics_auth_required:
        _check_basic(request, gw.settings)
    elif networks is None and not gw.settings.metrics_public:
        _check_key(request, gw)
    body = generate_latest(request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
