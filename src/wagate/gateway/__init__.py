"""The gateway: the registry of instances and the operations the HTTP API calls.

It wires the pure lifecycle (core/) to the store, the engine and the event bus. Routers call it
and shape its answers; it never knows about HTTP. Beside it, the operations over a registered
instance: sending (messenger.py) and the per-instance settings that act on events
(behaviour.py).
"""

from __future__ import annotations

import asyncio
import hmac
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from wagate.config import Settings, proxy_url
from wagate.core import lifecycle as lc
from wagate.core.ports import StatusSnapshot
from wagate.core.reconnect import Backoff
from wagate.core.supervisor import Supervisor, Timing
from wagate.domain.errors import BadRequest, Conflict, EngineUnavailable, Forbidden, NotFound
from wagate.domain.ids import bare_jid
from wagate.engines.base import Engine, InboundEvent
from wagate.engines.messaging import messaging_of
from wagate.events.bus import EventBus
from wagate.events.connection import ConnectionEvents
from wagate.messaging.pipeline import Pipeline
from wagate.runtime.clock import Clock
from wagate.runtime.tasks import spawn
from wagate.store.repos import Credentials, NameTaken, NewInstance, Store, hash_token
from wagate.store.tokens import TokenBox

_log = structlog.get_logger("wagate.gateway")


@dataclass(slots=True)
class Registered:
    """An instance the gateway knows: its identity in memory, and its supervisor."""

    id: str
    name: str
    integration: str
    token_hash: str
    number: str | None
    supervisor: Supervisor
    token: str | None = None
    """The token itself, kept only with AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES=true (for the
    events' `apikey`); None otherwise, or when it cannot be recovered."""
    reseal: Callable[[str], None] | None = None
    """Told the token the first time it matches, when no sealed copy of it can be opened
    (an instance created before tokens were kept sealed, or sealed under another key)."""

    def token_matches(self, token: str) -> bool:
        matches = hmac.compare_digest(self.token_hash, hash_token(token))
        if matches and self.reseal is not None:
            reseal, self.reseal = self.reseal, None
            reseal(token)
        return matches


class FaultHook(Protocol):
    """Faults a test network injects into the registry (the sim's network, set by the app when
    it runs the sim engine); None in production, where nothing is injected."""

    def take_persist_fault(self, name: str) -> bool:
        """True when this instance's next status write must fail (persistFailsOnce)."""
        ...

    def reset_instance(self, name: str) -> None:
        """A name was created or restored: it starts with no faults set."""
        ...


class _StatusPort:
    """The store's status writes, with an injected write fault applied (FaultHook)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway

    async def save_status(self, instance_id: str, snap: StatusSnapshot) -> None:
        reg = self._gw.by_id.get(instance_id)
        faults = self._gw.faults
        if faults is not None and reg is not None and faults.take_persist_fault(reg.name):
            raise OSError("injected fault: the database write failed")
        await self._gw.store.save_status(instance_id, snap)
        for listener in self._gw.status_listeners:
            listener(instance_id, snap.lifecycle_state, snap.reason)

    async def save_status_with_events(
        self, instance_id: str, snap: StatusSnapshot, events: Sequence[dict[str, Any]]
    ) -> None:
        """The snapshot and its events' outbox rows in one transaction (events/bus.py)."""
        if not self._gw.bus.durable:
            await self.save_status(instance_id, snap)
            await self._gw.bus.write(events)
            return
        reg = self._gw.by_id.get(instance_id)
        faults = self._gw.faults
        if faults is not None and reg is not None and faults.take_persist_fault(reg.name):
            raise OSError("injected fault: the database write failed")
        await self._gw.bus.write_with(self._gw.store.status_write(instance_id, snap), events)
        for listener in self._gw.status_listeners:
            listener(instance_id, snap.lifecycle_state, snap.reason)

    async def forget(self, instance_id: str) -> None:
        await self._gw.store.forget(instance_id)


class NameLocks:
    """One lock per instance name. A registry operation holds it from the lookup of the name to
    the commit of its change, so no operation ever acts on an instance another one has replaced.
    A name's lock lives while someone holds or waits for it, so the table stays as small as the
    work in flight, and every waiter on a name shares the one lock."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Gateway:
    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        credentials: Credentials,
        bus: EventBus,
        engine: Engine,
        clock: Clock,
        api_key: str,
        faults: FaultHook | None = None,
        rng: random.Random | None = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        self.settings = settings
        self.api_key = api_key
        self.store = store
        self.credentials = credentials
        self.bus = bus
        self.engine = engine
        self.clock = clock
        self.faults = faults
        self.pipeline = pipeline
        """Where each instance's messages, receipts … go (messaging/pipeline.py)."""
        self.rng = rng or random.Random()
        self.instances: dict[str, Registered] = {}
        self.by_id: dict[str, Registered] = {}
        self.inbound_gate: Callable[[str, InboundEvent], InboundEvent | None] | None = None
        """Sees each engine event before the message lane: what it returns goes on (None:
        nothing), e.g. without group chats under groupsIgnore (gateway/behaviour.py)."""
        self.status_listeners: list[Callable[[str, str, int], None]] = []
        """Told (instance id, lifecycle state, reason) after each persisted state change."""
        self.policy = lc.Policy(
            qr_limit=settings.qrcode_limit, max_failures=settings.reconnect_max_failures
        )
        self.backoff = Backoff(
            settings.reconnect_initial, settings.reconnect_max, settings.reconnect_jitter
        )
        self.timing = Timing(
            engine_call=settings.engine_timeout,
            stable_after=settings.stable_after,
        )
        self._announcer = ConnectionEvents(bus, qr_color=settings.qrcode_color)
        self._status = _StatusPort(self)
        self.names = NameLocks()
        self.tokens = TokenBox(settings.token_key or api_key)
        if settings.expose_in_fetch:
            bus.apikey_of = self._token_of
        self._expiry: dict[str, asyncio.Task[Any]] = {}

    # --- registry -------------------------------------------------------------------------

    def _token_of(self, instance_id: str) -> str | None:
        reg = self.by_id.get(instance_id)
        return reg.token if reg is not None else None

    def get(self, name: str, expected: Registered | None = None) -> Registered:
        """The instance registered under `name`; 404 if there is none, or if it is not
        `expected` (the one the caller was authorized for was deleted and the name reused)."""
        reg = self.instances.get(name)
        if reg is None or (expected is not None and reg is not expected):
            raise NotFound(f'The "{name}" instance does not exist')
        return reg

    def _supervisor(
        self,
        instance_id: str,
        name: str,
        initial: lc.Instance | None = None,
        profile_name: str | None = None,
    ) -> Supervisor:
        sup = Supervisor(
            instance_id=instance_id,
            name=name,
            engine=self.engine,
            creds=self.credentials,
            store=self._status,
            announcer=self._announcer,
            clock=self.clock,
            policy=self.policy,
            backoff=self.backoff,
            timing=self.timing,
            rng=self.rng,
            initial=initial,
            profile_name=profile_name,
        )
        if self.pipeline is not None:
            lane = self.pipeline.lane(
                instance_id,
                name,
                lambda: bare_jid(sup.inst.jid) if sup.inst.jid else None,
                media=self,
            )
            sup.inbound = lambda event: self._inbound(instance_id, lane.put, event)
            sup.durable = lambda: lane.durable(lane.accepted)
        sup.full_history = lambda: self._full_history(instance_id)
        sup.proxy = lambda: self.proxy_of(instance_id)
        sup.start()
        return sup

    def _inbound(
        self, instance_id: str, put: Callable[[InboundEvent], None], event: InboundEvent
    ) -> None:
        gate = self.inbound_gate
        admitted = event if gate is None else gate(instance_id, event)
        if admitted is not None:
            put(admitted)

    async def download(self, instance_id: str, media: dict[str, Any]) -> bytes:
        """A media message's bytes through the instance's live session (the message lanes'
        MediaSource, for webhook base64; the caller bounds the time)."""
        reg = self.by_id.get(instance_id)
        session = None if reg is None else reg.supervisor.live_session()
        if session is None:
            raise EngineUnavailable("the instance is not open")
        return await messaging_of(session, self.engine.name).download(media)

    async def proxy_of(self, instance_id: str) -> str | None:
        """The proxy URL of the instance's sessions and media fetches: its own (/proxy/set,
        create's proxy fields) when enabled, else Evolution's global PROXY_*, else None."""
        row = await self.store.get_proxy(instance_id)
        if row is not None and row.enabled and row.host:
            return proxy_url(row.protocol, row.host, row.port, row.username, row.password)
        return self.settings.global_proxy

    async def _full_history(self, instance_id: str) -> bool:
        row = await self.store.get_settings(instance_id)
        return bool(row is not None and row.sync_full_history)

    def _register(self, reg: Registered) -> None:
        self.instances[reg.name] = reg
        self.by_id[reg.id] = reg

    # --- create / delete ------------------------------------------------------------------

    async def create(
        self,
        *,
        name: str,
        integration: str,
        token: str | None,
        number: str | None,
        business_id: str | None,
        settings: dict[str, Any],
        webhook: dict[str, Any] | None,
    ) -> tuple[Registered, str]:
        """Create and register an instance. Returns it and its token (shown only here)."""
        async with self.names.hold(name):
            if name in self.instances:
                raise Forbidden(f'This name "{name}" is already in use.')
            instance_id = str(uuid.uuid4())
            token = token or str(uuid.uuid4()).upper()
            new = NewInstance(
                instance_id,
                name,
                integration,
                token,
                self.settings.client_name,
                number,
                business_id,
                settings,
                webhook,
                token_sealed=self.tokens.seal(token),
            )
            try:
                await self.store.create_instance(new)
            except NameTaken:
                raise Forbidden(f'This name "{name}" is already in use.') from None
            if self.faults is not None:
                self.faults.reset_instance(name)
            reg = Registered(
                instance_id,
                name,
                integration,
                hash_token(token),
                number,
                self._supervisor(instance_id, name),
                token if self.settings.expose_in_fetch else None,
            )
            self._register(reg)
            await self.bus.emit(  # under the name's lock: ordered before a delete's events
                name,
                instance_id,
                "instance.create",
                {"instanceName": name, "instanceId": instance_id},
                None,
            )
            self._schedule_expiry(reg)
        _log.info("instance created", instance=name, id=instance_id)
        return reg, token

    async def delete(self, name: str, expected: Registered | None = None) -> None:
        async with self.names.hold(name):
            reg = self.get(name, expected)
            await reg.supervisor.submit(lc.Delete())
            del self.instances[name]
            self.by_id.pop(reg.id, None)
            if self.pipeline is not None:
                self.pipeline.forget(reg.id)
            task = self._expiry.pop(reg.id, None)
            if task is not None and task is not asyncio.current_task():
                task.cancel()
            await self.bus.emit(
                name, reg.id, "instance.delete", {"instanceName": name, "instanceId": reg.id}, None
            )
            await self.bus.emit(name, reg.id, "remove.instance", None, None)
        _log.info("instance deleted", instance=name, id=reg.id)

    def _schedule_expiry(self, reg: Registered) -> None:
        """DEL_INSTANCE: delete an instance that is not open N minutes after creation."""
        minutes = self.settings.del_instance
        if not minutes:
            return

        async def expire() -> None:
            await self.clock.sleep(minutes * 60)
            if self.instances.get(reg.name) is reg and reg.supervisor.external_state != "open":
                _log.info(
                    "deleting instance not connected in time", instance=reg.name, minutes=minutes
                )
                try:
                    await self.delete(reg.name, reg)
                except NotFound:  # deleted meanwhile
                    pass

        self._expiry[reg.id] = spawn(expire(), name=f"expiry:{reg.name}")

    # --- lifecycle intents ----------------------------------------------------------------

    async def connect(
        self, name: str, number: str | None = None, expected: Registered | None = None
    ) -> Registered:
        async with self.names.hold(name):
            reg = self.get(name, expected)
            sup = reg.supervisor
            await sup.submit(lc.Connect(number))
        # Answer with the first QR/pairing code, or once the session settles: never a hang. The
        # wait is the HTTP caller's, so it runs on the loop's time, not the lifecycle's clock;
        # a reconnect backoff has no session to wait for.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.connect_wait
        while sup.inst.state in (lc.State.CONNECTING, lc.State.AWAITING_IDENTITY) and not (
            sup.code.code or sup.code.pairing_code
        ):
            left = deadline - loop.time()
            if left <= 0:
                break
            await sup.wait_changed(min(left, 0.25))
        return reg

    async def restart(self, name: str, expected: Registered | None = None) -> Registered:
        async with self.names.hold(name):
            reg = self.get(name, expected)
            decision = await reg.supervisor.submit(lc.Restart())
        if decision.reply is lc.Reply.NOT_CONNECTED:
            raise BadRequest(f'The "{name}" instance is not connected')
        return reg

    async def logout(self, name: str, expected: Registered | None = None) -> lc.Reply:
        """Returns LOGGED_OUT or ALREADY_CLOSED. Completes its work before returning."""
        async with self.names.hold(name):
            decision = await self.get(name, expected).supervisor.submit(lc.Logout())
        return decision.reply

    async def set_presence(self, name: str, presence: str) -> None:
        reg = self.get(name)
        session = reg.supervisor.live_session()
        if session is None:
            raise BadRequest(f'The "{name}" instance is not connected')
        try:
            await asyncio.wait_for(session.set_presence(presence), self.timing.engine_call)
        except TimeoutError:
            raise Conflict(f'The "{name}" instance did not answer in time') from None
        except Exception as exc:
            raise BadRequest(f'The "{name}" instance is not connected: {exc}') from None

    # --- boot and shutdown ----------------------------------------------------------------

    async def boot(self) -> None:
        """Restore every instance; reconnect those that were up and still have credentials,
        staggered; reconcile the rest to close."""
        rows = await self.store.all_instances(self.settings.client_name)
        with_creds = await self.credentials.present()
        restoring = 0
        expose = self.settings.expose_in_fetch
        unrecoverable = 0
        temporary: list[str] = []
        for row in rows:
            initial = lc.restored(
                row.lifecycle_state, row.status_reason, row.owner_jid, row.id in with_creds
            )
            if self.faults is not None:
                self.faults.reset_instance(row.name)
            sup = self._supervisor(row.id, row.name, initial, row.profile_name)
            token = self.tokens.open(row.token_sealed)
            reg = Registered(
                row.id,
                row.name,
                row.integration,
                row.token_hash,
                row.number,
                sup,
                token if expose else None,
            )
            if token is None:
                unrecoverable += 1
                reg.reseal = lambda known, reg=reg: self._reseal(reg, known)
            self._register(reg)
            has_creds = row.id in with_creds
            if self.settings.del_temp_instances and not has_creds and not row.owner_jid:
                temporary.append(row.name)
                continue
            stagger = restoring * self.settings.boot_stagger
            sup.boot(lc.Boot(row.connection_status, has_creds, stagger))
            if has_creds and row.connection_status in ("open", "connecting"):
                restoring += 1
        for name in temporary:  # DEL_TEMP_INSTANCES: never paired, so nothing to keep
            await self.delete(name)
        if temporary:
            _log.info("deleted instances that were never paired", instances=temporary)
        _log.info("instances restored", total=len(rows), reconnecting=restoring)
        if unrecoverable:
            _log.warning(
                "some instance tokens cannot be shown until they are next used: created before "
                "tokens were kept sealed, or sealed under another WAGATE_TOKEN_KEY / API key",
                instances=unrecoverable,
            )

    def _reseal(self, reg: Registered, token: str) -> None:
        """A token that could not be shown was just used: keep it sealed under today's key."""
        if self.settings.expose_in_fetch:
            reg.token = token
        sealed = self.tokens.seal(token)
        spawn(self.store.seal_token(reg.id, sealed), name=f"reseal:{reg.name}")

    async def shutdown(self) -> None:
        for task in self._expiry.values():
            task.cancel()
        await asyncio.gather(
            *(r.supervisor.shutdown() for r in self.instances.values()), return_exceptions=True
        )
        if self.pipeline is not None:
            self.pipeline.close()
        await self.engine.close()
