"""WhatsApp Web through whatsmeow (neonize 0.5.2), in crash-isolated host processes.

The Go library aborts the whole process on some races and calls (shared/reference/neonize.md),
so it never runs in the API process: hosts (host.py) run it, the pool (pool.py) supervises
them, and the engine (engine.py) implements the engine Protocol on top.

The names below load on first use: a host process imports this package too, and must not pay
for the API side (pydantic settings, structlog, the pool) in its memory.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wagate.engines.neonize.engine import (
        NeonizeConfig,
        NeonizeEngine,
        NeonizeSession,
        from_settings,
    )
    from wagate.engines.neonize.hostconfig import HostConfig
    from wagate.engines.neonize.store import PostgresSessions, SessionStore, SqliteSessions

__all__ = [
    "HostConfig",
    "NeonizeConfig",
    "NeonizeEngine",
    "NeonizeSession",
    "PostgresSessions",
    "SessionStore",
    "SqliteSessions",
    "available",
    "from_settings",
]
_HOMES = {
    "NeonizeConfig": "engine",
    "NeonizeEngine": "engine",
    "NeonizeSession": "engine",
    "from_settings": "engine",
    "HostConfig": "hostconfig",
    "PostgresSessions": "store",
    "SessionStore": "store",
    "SqliteSessions": "store",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def available() -> bool:
    """True when neonize and its Go library are installed (checked without loading them)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("neonize")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(any(Path(p).glob("neonize-*")) for p in spec.submodule_search_locations)
