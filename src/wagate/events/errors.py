"""The error webhook (Evolution's WEBHOOK_EVENTS_ERRORS and WEBHOOK_EVENTS_ERRORS_WEBHOOK):
every error the API answers is also POSTed to one URL as
`{event: "error", data: {error, message, status, response: {message}}, date_time, api_key,
server_url}`.

Evolution puts the global API key in `api_key`, in clear, to every receiver of the error
webhook; wagate sends `null` there (a receiver that must know the sender can be reached on a
private address, or behind a proxy that adds its own credentials).

Best effort, as Evolution's: the answers are queued (at most `BOUND`, the oldest dropped
first, logged) and sent one by one by a task with the webhook timeout; a failed POST is
logged and not retried. The request that failed never waits for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from wagate.events.sinks.keepalive import KeepAlivePool, describe, parse_target, render
from wagate.runtime.tasks import spawn

_log = structlog.get_logger("wagate.events")
BOUND = 1000


class ErrorWebhook:
    def __init__(self, url: str, server_url: str, timeout: float, ca_file: str | None) -> None:
        self.url = url
        self.server_url = server_url
        self.timeout = timeout
        self._target = parse_target(url)
        self._pool = KeepAlivePool(4, ca_file=ca_file)
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.dropped = 0

    def report(self, status: int, error: str, message: Any) -> None:
        """One error answer (never waits)."""
        body = {
            "event": "error",
            "data": {
                "error": error,
                "message": message,
                "status": status,
                "response": {"message": message},
            },
            "date_time": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "api_key": None,
            "server_url": self.server_url,
        }
        if len(self._queue) >= BOUND:
            self._queue.popleft()
            self.dropped += 1
            _log.warning("error webhook behind: an error report was dropped", url=self.url)
        self._queue.append(orjson.dumps(body))
        self._wake.set()
        if self._task is None:
            self._task = spawn(self._run(), name="error-webhook")

    async def _run(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            body = self._queue.popleft()
            headers = {"Content-Type": "application/json", "User-Agent": "wagate"}
            try:
                status = await self._pool.post(
                    self._target, render(self._target, body, headers), self.timeout
                )
                if status >= 300:
                    _log.warning("error webhook answered", url=self.url, status=status)
                self.sent += 1
            except Exception as exc:
                _log.warning("error webhook failed", url=self.url, error=describe(exc))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self._pool.close()
