"""The sim engine: sessions on the simulated network, behind the engine Protocol."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from urllib.parse import urlsplit

from wagate.domain.close import CloseCode
from wagate.domain.errors import EngineUnavailable
from wagate.engines.base import (
    Closed,
    CredsUpdate,
    EngineEvent,
    EventSink,
    InboundEvent,
    Opened,
    PairCode,
    Qr,
    SessionSpec,
)
from wagate.engines.sim.network import Account, SimNetwork
from wagate.engines.sim.post import SimMessaging, retag
from wagate.runtime.dial import dial
from wagate.runtime.tasks import spawn


class SimSession(SimMessaging):
    """One connection of one instance to the simulated network."""

    def __init__(
        self,
        net: SimNetwork,
        spec: SessionSpec,
        sink: EventSink,
        device: tuple[str, str] = ("wagate", "CHROME"),
    ) -> None:
        self.epoch = spec.epoch
        self.device_name = device
        self.name = spec.instance_name
        self.pairing_number = spec.pairing_number
        self._net = net
        self._spec = spec
        self._sink = sink
        self._creds = spec.creds
        self._alive = True
        self._socket_dead = False
        self._qr_task: asyncio.Task[Any] | None = None
        self.awaiting_pairing = False
        self.account: Account | None = None
        self._newly_paired = False

    @property
    def is_open(self) -> bool:
        return self._alive and self.account is not None

    def _emit(self, event: EngineEvent | InboundEvent) -> None:
        if self._alive:
            self._sink(event)

    def emit_inbound(self, event: InboundEvent) -> None:
        """A message, receipt … for this session's account (tagged with its epoch)."""
        self._emit(retag(event, self.epoch))

    def begin(self) -> None:
        """Called once the connection is up: either log in with creds or start pairing."""
        if not self._alive:
            return
        if self._creds and self._creds.get("jid"):
            account = self._net.account_for(str(self._creds["number"]))
            self._open(account)
            return
        self.awaiting_pairing = True
        if self.pairing_number:
            code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTVWXYZ0123456789") for _ in range(8))
            self._emit(PairCode(self.epoch, f"{code[:4]}-{code[4:]}"))
        self._qr_task = spawn(self._rotate_qr(), name=f"sim-qr:{self.name}")

    async def _rotate_qr(self) -> None:
        while self._alive and self.awaiting_pairing:
            ref = secrets.token_urlsafe(24)
            self._emit(Qr(self.epoch, f"2@{ref},{secrets.token_urlsafe(32)},{self.name}"))
            await self._net.clock.sleep(self._net.qr_interval)

    def paired(self, account: Account) -> None:
        """The phone scanned: credentials are issued and the session opens as the account."""
        self.awaiting_pairing = False
        self._cancel_qr()
        device = secrets.token_hex(4)
        account.linked.add(device)
        account.devices[device] = self.device_name
        self._creds = {"jid": account.jid, "number": account.number, "device": device}
        self._newly_paired = True
        self._emit(CredsUpdate(self.epoch, dict(self._creds)))
        self._open(account)

    def _open(self, account: Account) -> None:
        self.account = account
        loop = asyncio.get_running_loop()
        if self._net.faults_of(self.name).openWithoutIdentity:
            self._emit(Opened(self.epoch, None, None))
            loop.call_soon(self._emit, Opened(self.epoch, account.jid, account.push_name))
        else:
            self._emit(Opened(self.epoch, account.jid, account.push_name))
        loop.call_soon(self._synced, account)

    def _synced(self, account: Account) -> None:
        """Open: a newly paired device gets the account's history first (a reconnect with
        saved credentials does not), then what waited in the account's inbox arrives."""
        if not self._alive:
            return
        if self._newly_paired:
            self._newly_paired = False
            now = self._net.clock.wall()
            for chunk in account.past.sync(now, self._spec.full_history):
                self.emit_inbound(chunk)
        self.sync_labels(account, str((self._creds or {}).get("device")))
        waiting, account.inbox = account.inbox, []
        for event in waiting:
            self.emit_inbound(event)

    def drop(self, code: int, detail: str) -> None:
        """The server side closes the connection."""
        if not self._alive:
            return
        self._emit(Closed(self.epoch, code, detail))
        if code == CloseCode.LOGGED_OUT and self._creds:  # the server unlinked the device
            account = self._net.accounts.get(str(self._creds.get("number")))
            if account is not None:
                account.unlink(str(self._creds.get("device")))
        self._release()

    def _release(self) -> None:
        if self._alive:
            self._alive = False
            self.account = None
            self._cancel_qr()
            self._net.stats_of(self.name).live_sessions -= 1
            if self._net.sessions.get(self.name) is self:
                del self._net.sessions[self.name]

    def _cancel_qr(self) -> None:
        if self._qr_task is not None:
            self._qr_task.cancel()
            self._qr_task = None

    async def logout_remote(self) -> None:
        faults = self._net.faults_of(self.name)
        if faults.socketAlreadyClosed or not self._alive:
            self._socket_dead = True
            raise EngineUnavailable("Connection Closed")
        if faults.logoutFails:
            raise EngineUnavailable("remote logout request failed")
        if self._creds:
            account = self._net.accounts.get(str(self._creds.get("number")))
            if account is not None:
                account.unlink(str(self._creds.get("device")))

    async def stop(self) -> None:
        dead = self._socket_dead or self._net.faults_of(self.name).socketAlreadyClosed
        self._release()
        if dead:
            raise EngineUnavailable("Connection Closed: the socket is already gone")

    async def set_presence(self, presence: str) -> None:
        if not self._alive or self._net.faults_of(self.name).socketAlreadyClosed:
            raise EngineUnavailable("Connection Closed")
        if presence in ("available", "unavailable"):
            self._net.stats_of(self.name).presence = presence


PROXY_DIAL_SECONDS = 5.0


async def _through(proxy: str) -> None:
    """Dial the proxy as a real session would (a TCP connection to its host and port, under
    a deadline): one that cannot be reached fails the start, naming it."""
    url = urlsplit(proxy)
    problem = await dial(url.hostname or "", url.port or 80, PROXY_DIAL_SECONDS)
    if problem is not None:
        raise EngineUnavailable(f"proxy unreachable: {problem}")


class SimEngine:
    """Engine Protocol over a `SimNetwork`."""

    name = "sim"

    def __init__(self, net: SimNetwork, device: tuple[str, str] = ("wagate", "CHROME")) -> None:
        self.net = net
        self.device = device
        """(name, browser) a paired session shows on the phone (CONFIG_SESSION_PHONE_*)."""

    async def start(self, spec: SessionSpec, sink: EventSink) -> SimSession:
        stats = self.net.stats_of(spec.instance_name)
        stats.connect_attempts += 1
        if self.net.connect_delay:
            await self.net.clock.sleep(self.net.connect_delay)
        if not self.net.up:
            raise EngineUnavailable("network unreachable (sim network is down)")
        stats.proxy = spec.proxy
        if spec.proxy is not None:
            await _through(spec.proxy)
        old = self.net.sessions.get(spec.instance_name)
        if old is not None:  # the server replaces a second connection of the same device
            old.drop(CloseCode.REPLACED, "replaced by a new connection")
        session = SimSession(self.net, spec, sink, self.device)
        self.net.sessions[spec.instance_name] = session
        stats.live_sessions += 1
        asyncio.get_running_loop().call_soon(session.begin)
        return session

    async def purge(self, instance_id: str, instance_name: str) -> None:
        """The sim keeps no credentials of its own: they live in the store's sessions table."""

    async def close(self) -> None:
        for session in list(self.net.sessions.values()):
            session._release()
