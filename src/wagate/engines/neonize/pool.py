"""Host processes, seen from the API process: spawn, talk, supervise, recycle.

A `HostProcess` is one `python -m wagate.engines.neonize.host` child with its framed pipe. The
`HostPool` places instances on hosts (shard size instances per host, one by default), keeps an
instance on its host across reconnects, retires a host after K connects (whatsmeow leaks a store
handle per connect), closes idle hosts, and restarts after a crash with backoff. A host that
exits for any reason reports each of its live sessions closed with the reason; the other hosts
never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog

from wagate.domain.errors import (
    BadRequest,
    EngineAuthFailed,
    EngineFatal,
    EngineUnavailable,
    Forbidden,
    NotFound,
    NotSupported,
    WagateError,
)
from wagate.engines.neonize import translate
from wagate.engines.neonize.wire import Frame, FrameError, encode, read_frame
from wagate.runtime.tasks import spawn

_log = structlog.get_logger("wagate.neonize")
ERRORS: dict[str, type[WagateError]] = {
    "unavailable": EngineUnavailable,
    "auth": EngineAuthFailed,
    "fatal": EngineFatal,
    "bad": BadRequest,
    "not_found": NotFound,
    "forbidden": Forbidden,
    "unsupported": NotSupported,
}


class HostSession(Protocol):
    """What the pool needs of a session living on one of its hosts."""

    sid: str
    epoch: int

    def on_event(self, head: dict[str, Any]) -> None: ...

    def host_exited(self, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """How hosts are run; the host's own settings travel as `host` (HostConfig fields)."""

    shard_size: int = 1
    recycle_after: int = 20
    ready_timeout: float = 30.0
    idle_timeout: float = 120.0
    restart_initial: float = 0.5
    restart_max: float = 30.0
    stable_after: float = 60.0
    exit_timeout: float = 5.0
    python: str = sys.executable
    host: tuple[tuple[str, Any], ...] = ()


class HostProcess:
    """One host child process and its pipe."""

    def __init__(self, number: int, pool: HostPool) -> None:
        self.number = number
        self.pool = pool
        self.proc: asyncio.subprocess.Process | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.exited: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.bound: set[str] = set()
        self.live: dict[str, HostSession] = {}
        self.connects = 0
        self.draining = False
        self.closing = False
        self.started = False
        self.kill_reason: str | None = None
        self.started_at = time.monotonic()
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self._pending: dict[int, asyncio.Future[Frame]] = {}
        self._ids = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._idle: asyncio.Task[Any] | None = None
        self._log = _log.bind(host=number)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and not self.exited.done()

    @property
    def placeable(self) -> bool:
        cfg = self.pool.config
        return (
            not self.exited.done()
            and not self.draining
            and not self.closing
            and len(self.bound) < cfg.shard_size
            and self.connects < cfg.recycle_after
        )

    async def spawn(self, delay: float) -> None:
        """Start the child (after `delay`, the crash backoff) and wait for its ready frame."""
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            cfg = self.pool.config
            self.proc = await asyncio.create_subprocess_exec(
                cfg.python,
                "-m",
                "wagate.engines.neonize.host",
                orjson.dumps(dict(cfg.host)).decode(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,  # a signal to the server's group does not reach hosts
            )
            self.started_at = time.monotonic()
            if self.closing:  # closed while it was being spawned
                self.kill("closed before it was ready")
            self._tasks = [
                spawn(self._read(), f"neonize:host{self.number}:read"),
                spawn(self._read_stderr(), f"neonize:host{self.number}:stderr"),
            ]
            await asyncio.wait_for(asyncio.shield(self.ready), cfg.ready_timeout)
            self.started = True
            self._log.info("engine host ready", pid=self.pid)
        except Exception as exc:
            if not self.ready.done():
                self.ready.set_exception(
                    EngineUnavailable(f"engine host did not start: {exc!r}"[:300])
                )
                self.ready.exception()  # retrieved here; waiters get it too
            self.kill("did not start in time")
            if self.proc is None and not self.exited.done():
                self.exited.set_result(None)
                self.pool.host_gone(self, "engine host could not be started")

    async def request(self, op: str, timeout: float, body: bytes = b"", **fields: Any) -> Frame:
        """Send one command and wait for its reply; errors become classified EngineErrors."""
        if not self.alive or self.proc is None or self.proc.stdin is None:
            raise EngineUnavailable(self.exit_detail())
        self._ids += 1
        rid = self._ids
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            self.proc.stdin.write(encode(Frame({"op": op, "id": rid, **fields}, body)))
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise EngineUnavailable(f"engine host did not answer {op} in {timeout:g} s") from None
        except (ConnectionError, RuntimeError) as exc:
            raise EngineUnavailable(f"engine host pipe failed: {exc}") from None
        finally:
            self._pending.pop(rid, None)
        reply = fut.result()
        if not reply.head.get("ok"):
            kind = str(reply.head.get("kind", "unavailable"))
            raise ERRORS.get(kind, EngineUnavailable)(str(reply.head.get("error", op)))
        return reply

    def send(self, op: str, **fields: Any) -> None:
        """Send a command without waiting for its reply."""
        if self.alive and self.proc is not None and self.proc.stdin is not None:
            self._ids += 1
            self.proc.stdin.write(encode(Frame({"op": op, "id": self._ids, **fields})))

    def kill(self, reason: str) -> None:
        """SIGKILL the child; its sessions are reported closed with `reason`."""
        if self.proc is not None and self.proc.returncode is None:
            self.kill_reason = self.kill_reason or reason
            self._log.warning("killing engine host", pid=self.pid, reason=reason)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def exit_detail(self) -> str:
        code = self.proc.returncode if self.proc is not None else None
        detail = translate.exit_reason(code, self.stderr_tail)
        return f"{detail} ({self.kill_reason})" if self.kill_reason else detail

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            while True:
                frame = await read_frame(self.proc.stdout)
                if frame is None:
                    break
                self._dispatch(frame)
        except FrameError as exc:
            self.kill(f"protocol error: {exc}")
        except Exception as exc:  # pragma: no cover - defensive
            self.kill(f"reader failed: {exc!r}")
        code = await self.proc.wait()
        await asyncio.sleep(0)  # let the stderr reader take the last lines
        detail = self.exit_detail()
        if not self.exited.done():
            self.exited.set_result(code)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(EngineUnavailable(detail))
        if not self.ready.done():
            self.ready.set_exception(EngineUnavailable(detail))
            self.ready.exception()
        self.pool.host_gone(self, detail)

    def _dispatch(self, frame: Frame) -> None:
        head = frame.head
        if "re" in head:
            fut = self._pending.get(int(head["re"]))
            if fut is not None and not fut.done():
                fut.set_result(frame)
            return
        if head.get("ev") == "ready":
            if not self.ready.done():
                self.ready.set_result(None)
            return
        session = self.live.get(str(head.get("sid")))
        if session is not None:
            session.on_event(head)

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while True:
            raw = await self.proc.stderr.readline()
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip()
            if not line:
                continue
            self.stderr_tail.append(line)
            if line.startswith(("fatal error:", "panic:", "CRITICAL", "ERROR")):
                self._log.error("engine host says", line=line[:500])
            else:
                self._log.debug("engine host says", line=line[:500])

    # --- idleness ------------------------------------------------------------------------

    def session_ended(self) -> None:
        """A session left this host: retire it if draining, or start the idle clock."""
        if self.live:
            return
        if self.draining:
            self.pool.retire(self, "recycled after its connect budget")
            return
        if self._idle is None or self._idle.done():
            self._idle = spawn(self._idle_close(), f"neonize:host{self.number}:idle")

    async def _idle_close(self) -> None:
        await asyncio.sleep(self.pool.config.idle_timeout)
        if not self.live:
            self.pool.retire(self, "idle")

    async def close(self) -> None:
        """Ask the child to stop its sessions and exit; kill it if it does not in time."""
        self.closing = True
        if self._idle is not None:
            self._idle.cancel()
        if not self.alive:
            return
        self.send("exit")
        try:
            await asyncio.wait_for(asyncio.shield(self.exited), self.pool.config.exit_timeout)
        except TimeoutError:
            self.kill("did not exit in time")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.exited), 5.0)


class HostPool:
    """All host processes of one engine."""

    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self.hosts: list[HostProcess] = []
        self.bound: dict[str, HostProcess] = {}
        self.spawned = 0
        self.crashes = 0
        self._not_before = 0.0
        self._background: set[asyncio.Task[Any]] = set()
        self.on_exit: Callable[[HostProcess, str], None] | None = None

    def place(self, instance_id: str) -> HostProcess:
        """The host for this instance: its own if still usable, else one with room, else new."""
        host = self.bound.get(instance_id)
        if host is not None and not host.exited.done() and not host.closing:
            if host.connects < self.config.recycle_after:
                return host
            host.draining = True
            host.bound.discard(instance_id)
            if not host.live:
                self.retire(host, "recycled after its connect budget")
        host = next((h for h in self.hosts if h.placeable), None)
        if host is None:
            host = self._new_host()
        host.bound.add(instance_id)
        self.bound[instance_id] = host
        return host

    def _new_host(self) -> HostProcess:
        self.spawned += 1
        host = HostProcess(self.spawned, self)
        self.hosts.append(host)
        delay = max(0.0, self._not_before - time.monotonic())
        if delay:
            _log.info("engine host restart delayed", delay=round(delay, 2), crashes=self.crashes)
        self._track(spawn(host.spawn(delay), f"neonize:host{host.number}:spawn"))
        return host

    def host_gone(self, host: HostProcess, detail: str) -> None:
        """A host exited: close its sessions with the reason, forget it, back off if it crashed."""
        if host in self.hosts:
            self.hosts.remove(host)
        for instance_id in list(host.bound):
            if self.bound.get(instance_id) is host:
                del self.bound[instance_id]
        sessions, host.live = list(host.live.values()), {}
        # A crash: the host died on its own, or never came up. Exits we caused (closing, or a
        # kill for a stop past its deadline) do not delay the next spawn.
        crashed = not host.closing and (host.kill_reason is None or not host.started)
        if crashed:
            lived = time.monotonic() - host.started_at
            self.crashes = 1 if lived > self.config.stable_after else self.crashes + 1
            backoff = self.config.restart_initial * 2 ** (self.crashes - 1)
            self._not_before = time.monotonic() + min(self.config.restart_max, backoff)
            _log.warning(
                "engine host exited",
                host=host.number,
                pid=host.pid,
                detail=detail,
                sessions=len(sessions),
                crashes=self.crashes,
            )
        for session in sessions:
            session.host_exited(detail)
        if self.on_exit is not None:
            self.on_exit(host, detail)

    def retire(self, host: HostProcess, why: str) -> None:
        """Close a host in the background (no live sessions are left on it)."""
        if host.closing:
            return
        _log.info("retiring engine host", host=host.number, pid=host.pid, why=why)
        for instance_id in list(host.bound):
            if self.bound.get(instance_id) is host:
                del self.bound[instance_id]
        host.bound.clear()
        self._track(spawn(host.close(), f"neonize:host{host.number}:close"))

    async def release(self, instance_id: str) -> None:
        """The instance's credentials are going: unbind it, closing its host if now unused."""
        host = self.bound.pop(instance_id, None)
        if host is None:
            return
        host.bound.discard(instance_id)
        if not host.bound and not host.live:
            self.retire(host, "its instances are gone")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(host.exited), self.config.exit_timeout + 6)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Shutdown: every host exits (or is killed), including any still being spawned."""
        hosts = list(self.hosts)
        if hosts:
            await asyncio.gather(*(h.close() for h in hosts), return_exceptions=True)
        pending = [t for t in self._background if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.config.exit_timeout + 6)
        for host in hosts:
            host.kill("shutdown")
