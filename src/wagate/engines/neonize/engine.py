"""The neonize engine: the engine Protocol over whatsmeow, run in supervised host processes.

`start` never waits for WhatsApp: it places the instance on a host and returns; the host's
answer (a QR, an open, or a close with a code) arrives as engine events. Logout keeps the
lifecycle's order (remote unlink only when connected and within a deadline, then stop, then
purge) and `purge` deletes whatsmeow's own store for the instance, so a logout always ends
logged out even when the socket is gone (shared/reference/neonize.md §6).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog

from wagate.config import Settings
from wagate.domain.close import Cause, CloseCode
from wagate.domain.errors import EngineError, EngineFatal, EngineUnavailable
from wagate.engines.base import (
    Closed,
    CredsUpdate,
    EngineEvent,
    EventSink,
    LoggedOut,
    Opened,
    PairCode,
    Qr,
    SessionSpec,
)
from wagate.engines.neonize.hostconfig import HostConfig
from wagate.engines.neonize.outbound import NeonizeMessaging
from wagate.engines.neonize.pool import HostPool, HostProcess, PoolConfig
from wagate.engines.neonize.received import inbound_event
from wagate.engines.neonize.store import PostgresSessions, SessionStore, SqliteSessions
from wagate.runtime.tasks import spawn

_log = structlog.get_logger("wagate.neonize")
HOST_EXIT_CODE = CloseCode.INTERNAL


@dataclass(frozen=True, slots=True)
class NeonizeConfig:
    """Everything the engine and its hosts need; defaults fit one node offline or online."""

    shard_size: int = 1
    recycle_after: int = 20
    proxy: str | None = None
    start_timeout: float = 30.0
    stop_deadline: float = 4.0
    logout_deadline: float = 4.0
    call_timeout: float = 10.0
    idle_timeout: float = 120.0
    restart_initial: float = 0.5
    restart_max: float = 30.0
    python: str = sys.executable
    host: HostConfig = field(default_factory=HostConfig)

    def pool_config(self) -> PoolConfig:
        workers = max(self.host.workers, 2 * self.shard_size + 8)
        host = {**asdict(self.host), "workers": workers}
        return PoolConfig(
            shard_size=self.shard_size,
            recycle_after=self.recycle_after,
            ready_timeout=self.start_timeout,
            idle_timeout=self.idle_timeout,
            restart_initial=self.restart_initial,
            restart_max=self.restart_max,
            python=self.python,
            host=tuple(sorted(host.items())),
        )


class NeonizeSession(NeonizeMessaging):
    """One session of one instance, living on one host (messaging calls: outbound.py)."""

    def __init__(self, engine: NeonizeEngine, spec: SessionSpec, sink: EventSink) -> None:
        self.epoch = spec.epoch
        self.sid = spec.instance_id
        self.spec = spec
        self.host: HostProcess | None = None
        self._engine = engine
        self._sink = sink
        self._starter: asyncio.Task[Any] | None = None
        self._start_sent = False
        self._stopper: asyncio.Task[Any] | None = None
        self._closed = False

    # --- events from the host -------------------------------------------------------------

    def on_event(self, head: dict[str, Any]) -> None:
        if self._closed or int(head.get("epoch", -1)) != self.epoch:
            self._refuse(head)
            return
        try:
            event = _engine_event(self.epoch, head) or inbound_event(self.epoch, head)
        except (KeyError, TypeError, ValueError) as exc:  # a malformed frame: drop it, say so
            _log.warning("engine host sent a malformed event", ev=head.get("ev"), error=repr(exc))
            self._refuse(head)
            return
        if event is None:
            self._refuse(head, ok=True)  # nothing to store
            return
        if isinstance(event, Closed | LoggedOut):
            self._closed = True
        self._sink(event)
        if "ack" in head:
            spawn(self._acknowledge(head["ack"]), name=f"ack:{self.sid}")

    def _refuse(self, head: dict[str, Any], ok: bool = False) -> None:
        """A dropped event's handler in the host need not wait for it."""
        if "ack" in head and self.host is not None:
            self.host.send("ack", ack=head["ack"], ok=ok)

    async def _acknowledge(self, ack: Any) -> None:
        """The host's handler of this event waits: tell it once the event is durable (within
        the bound; past it, or when it could not be stored, it is told so and logs it)."""
        durable, bound = self.spec.durable, self._engine.config.host.ack_timeout
        ok = True
        if durable is not None:
            try:
                await asyncio.wait_for(durable(), bound)
            except TimeoutError:
                ok = False
                _log.warning(
                    "inbound event not durable in time",
                    instance=self.spec.instance_name,
                    seconds=bound,
                )
            except Exception as exc:
                ok = False
                _log.error(
                    "inbound event not stored", instance=self.spec.instance_name, error=repr(exc)
                )
        host = self.host
        if host is not None:
            host.send("ack", ack=ack, ok=ok)

    def host_exited(self, reason: str) -> None:
        if not self._closed and self._stopper is None:
            self._closed = True
            self._sink(Closed(self.epoch, HOST_EXIT_CODE, reason))

    def _fail(self, code: int, detail: str, cause: Cause | None = None) -> None:
        if not self._closed and self._stopper is None:
            self._closed = True
            self._sink(Closed(self.epoch, code, detail, cause))

    # --- start ----------------------------------------------------------------------------

    def begin(self, host: HostProcess, location: str) -> None:
        self.host = host
        host.live[self.sid] = self
        self._starter = spawn(self._start(host, location), f"neonize:start:{self.sid}")

    async def _start(self, host: HostProcess, location: str) -> None:
        cfg = self._engine.config
        try:
            await asyncio.wait_for(asyncio.shield(host.ready), cfg.start_timeout)
            host.connects += 1
            self._start_sent = True
            await host.request(
                "start",
                cfg.start_timeout,
                sid=self.sid,
                epoch=self.epoch,
                db=location,
                proxy=self.spec.proxy or cfg.proxy,
                pairing_number=self.spec.pairing_number,
                full_history=self.spec.full_history,
            )
        except EngineError as exc:
            self._fail(exc.code, str(exc), exc.cause)
        except TimeoutError:
            self._fail(HOST_EXIT_CODE, f"engine host not ready within {cfg.start_timeout:g} s")

    # --- the Protocol ---------------------------------------------------------------------

    async def logout_remote(self) -> None:
        host = self._require_host()
        deadline = self._engine.config.logout_deadline
        await host.request("logout", deadline + 1.0, sid=self.sid, epoch=self.epoch,
                           deadline=deadline)  # fmt: skip

    async def stop(self) -> None:
        if self._stopper is None:
            self._stopper = spawn(self._stop(), f"neonize:stop:{self.sid}", awaited=True)
        await asyncio.shield(self._stopper)

    async def _stop(self) -> None:
        """Stop on the host within the deadline, or kill the host: stop always ends."""
        host, starter = self.host, self._starter
        if host is None:
            return
        try:
            if starter is not None and not starter.done() and not self._start_sent:
                starter.cancel()  # the host never heard of this session
                return
            if not host.alive:
                return
            deadline = self._engine.config.stop_deadline
            try:
                await host.request("stop", deadline, sid=self.sid, epoch=self.epoch)
            except EngineUnavailable as exc:
                if host.alive:
                    host.kill(f"a stop passed its deadline ({deadline:g} s): {exc}")
        finally:
            if host.live.get(self.sid) is self:
                del host.live[self.sid]
                host.session_ended()

    async def set_presence(self, presence: str) -> None:
        host = self._require_host()
        await host.request(
            "presence",
            self._engine.config.call_timeout,
            sid=self.sid,
            epoch=self.epoch,
            presence=presence,
        )

    def _require_host(self) -> HostProcess:
        host = self.host
        if host is None or not host.alive or self._stopper is not None:
            raise EngineUnavailable("the session is not running")
        return host

    def _call_timeout(self) -> float:
        return self._engine.config.call_timeout


def _engine_event(epoch: int, head: dict[str, Any]) -> EngineEvent | None:
    match head.get("ev"):
        case "qr":
            return Qr(epoch, str(head["code"]))
        case "pair_code":
            return PairCode(epoch, str(head["code"]))
        case "opened":
            jid = head.get("jid")
            return Opened(epoch, str(jid) if jid else None, head.get("push_name") or None)
        case "creds":
            creds = {"engine": "neonize", "jid": str(head.get("jid", ""))}
            if head.get("business_name"):
                creds["business_name"] = str(head["business_name"])
            return CredsUpdate(epoch, creds)
        case "closed":
            cause = str(head.get("cause"))
            return Closed(
                epoch,
                int(head.get("code", CloseCode.INTERNAL)),
                str(head.get("detail", "")),
                Cause(cause) if cause in Cause._value2member_map_ else None,
            )
        case "logged_out":
            return LoggedOut(epoch, str(head.get("detail", "")))
    return None


class NeonizeEngine:
    """Engine Protocol over neonize hosts."""

    name = "neonize"

    def __init__(self, config: NeonizeConfig, store: SessionStore) -> None:
        self.config = config
        self.store = store
        self.pool = HostPool(config.pool_config())

    @classmethod
    def for_data_dir(
        cls, data_dir: Path, config: NeonizeConfig | None = None, postgres_uri: str | None = None
    ) -> NeonizeEngine:
        """SQLite files under the data dir, or schemas in wagate's PostgreSQL database."""
        store: SessionStore = (
            PostgresSessions(postgres_uri)
            if postgres_uri
            else SqliteSessions(Path(data_dir) / "neonize")
        )
        return cls(config or NeonizeConfig(), store)

    async def start(self, spec: SessionSpec, sink: EventSink) -> NeonizeSession:
        try:
            await self.store.prepare(spec.instance_id)
            jid = await self.store.paired_jid(spec.instance_id)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineUnavailable(f"session store unavailable: {exc}") from exc
        if jid and not (spec.creds and spec.creds.get("jid")):
            # whatsmeow holds a paired device the gateway did not know about: adopt it.
            sink(CredsUpdate(spec.epoch, {"engine": "neonize", "jid": jid}))
        session = NeonizeSession(self, spec, sink)
        host = self.pool.place(spec.instance_id)
        old = host.live.get(spec.instance_id)
        if isinstance(old, NeonizeSession):  # never two sessions of one instance
            await old.stop()
        session.begin(host, self.store.location(spec.instance_id))
        return session

    async def purge(self, instance_id: str, instance_name: str) -> None:
        """Forget the instance's host binding, then delete whatsmeow's store for it."""
        await self.pool.release(instance_id)
        await self.store.purge(instance_id)

    async def close(self) -> None:
        await self.pool.close()

    def describe(self) -> dict[str, Any]:
        """Hosts and their sessions, for diagnostics and the bench."""
        return {
            "hosts": [
                {
                    "number": h.number,
                    "pid": h.pid,
                    "bound": sorted(h.bound),
                    "live": sorted(h.live),
                    "connects": h.connects,
                    "draining": h.draining,
                }
                for h in self.pool.hosts
            ],
            "spawned": self.pool.spawned,
            "crashes": self.pool.crashes,
        }


def from_settings(settings: Settings) -> NeonizeEngine:
    """The engine as configured by WAGATE_NEONIZE_* (and the database provider)."""
    from wagate.engines.neonize import available

    if not available():
        raise EngineFatal(
            "WAGATE_ENGINE=neonize, but neonize (with its Go library) is not installed; "
            "install wagate's locked dependencies or use WAGATE_ENGINE=sim"
        )
    config = NeonizeConfig(
        shard_size=settings.neonize_shard_size,
        recycle_after=settings.neonize_recycle_after,
        proxy=settings.neonize_proxy,
        host=HostConfig(
            connect_deadline=settings.neonize_connect_deadline,
            device_os=settings.session_phone_client,
            device_platform=settings.session_phone_name,
            log_level="WARNING" if settings.log_level != "DEBUG" else "DEBUG",
            ack_timeout=settings.inbound_ack_timeout,
        ),
    )
    postgres = settings.database_uri if settings.database_provider == "postgresql" else None
    return NeonizeEngine.for_data_dir(settings.data_dir, config, postgres_uri=postgres)
