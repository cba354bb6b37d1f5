"""The NATS sink (nats-py), with Evolution's subjects: `<instance>.<event>` per instance,
`<NATS_PREFIX_KEY>.<event>` (or `<event>`) globally. A message counts as delivered once the
server answered the flush that follows it; `Nats-Msg-Id` carries the event id, so a JetStream
stream on those subjects deduplicates redeliveries."""

from __future__ import annotations

import asyncio
from typing import Any

import nats

from wagate.events.sinks.base import Result
from wagate.store.outbox import Claimed

FLUSH_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0


class NatsSink:
    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._nc: Any = None

    async def connect(self) -> None:
        self._nc = await asyncio.wait_for(
            nats.connect(
                self._uri,
                name="wagate",
                connect_timeout=CONNECT_TIMEOUT,
                max_reconnect_attempts=-1,
            ),
            CONNECT_TIMEOUT * 2,
        )

    @staticmethod
    def subject(row: Claimed) -> str:
        if row.scope == "instance":
            return f"{row.target}.{row.event}"
        return f"{row.target}.{row.event}" if row.target else row.event

    async def deliver(self, row: Claimed) -> Result:
        try:
            if self._nc is None:
                await self.connect()
            await self._nc.publish(
                self.subject(row), row.payload.encode(), headers={"Nats-Msg-Id": row.event_id}
            )
            await self._nc.flush(FLUSH_TIMEOUT)
        except Exception as exc:
            return Result(False, None, f"{type(exc).__name__}: {exc}"[:500])
        return Result(True)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.drain()
