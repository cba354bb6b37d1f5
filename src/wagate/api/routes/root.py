"""GET / and GET /health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wagate import __version__
from wagate.api.deps import GatewayDep, GlobalKey
from wagate.api.json import JSONResponse
from wagate.gateway import Gateway

router = APIRouter()
EVOLUTION_VERSION = "2.3.7"


@router.get("/", summary="Welcome (no outbound call)")
async def welcome(gw: GatewayDep) -> dict[str, Any]:
    return {
        "status": 200,
        "message": "Welcome to the Evolution API, it is working!",
        "version": EVOLUTION_VERSION,
        "clientName": gw.settings.client_name,
        "manager": f"{gw.settings.public_url}/manager",
        "documentation": None if gw.settings.disable_docs else f"{gw.settings.public_url}/docs",
        "whatsappWebVersion": None,
        "wagate": {
            "version": __version__,
            "engine": gw.engine.name,
            "database": gw.settings.database_provider,
            "sinks": _sinks(gw),
        },
    }


def _sinks(gw: Gateway) -> list[str]:
    """The event transports this server runs (`wagate doctor` shows them)."""
    s = gw.settings
    on = {
        "webhook": True,
        "webhook (global)": s.webhook_global_enabled,
        "websocket": s.websocket_enabled,
        "rabbitmq": s.rabbitmq_enabled,
        "nats": s.nats_enabled,
        "sqs": s.sqs_enabled,
        "pusher": s.pusher_enabled,
    }
    return [name for name, enabled in on.items() if enabled]


@router.post("/verify-creds", dependencies=[GlobalKey], summary="Check the global key")
async def verify_creds() -> dict[str, Any]:
    """Evolution also returns its FACEBOOK_* settings here; wagate has none, so they are absent
    (as in Evolution when those variables are unset)."""
    return {"status": 200, "message": "Credentials are valid"}


@router.get("/health", summary="Liveness and readiness (database reachable)")
async def health(gw: GatewayDep) -> JSONResponse:
    ready, error = True, None
    try:
        await gw.store.ping()
    except Exception as exc:
        ready, error = False, repr(exc)
    body = {
        "status": "ok" if ready else "unavailable",
        "live": True,
        "ready": ready,
        "database": {"provider": gw.settings.database_provider, "ok": ready, "error": error},
        "engine": gw.engine.name,
        "instances": len(gw.instances),
    }
    return JSONResponse(body, status_code=200 if ready else 503)
