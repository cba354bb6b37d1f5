"""All background work starts here: named tasks, a strong reference, failures logged."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import structlog

_log = structlog.get_logger("wagate.tasks")
_running: set[asyncio.Task[Any]] = set()
T = TypeVar("T")


def spawn(coro: Coroutine[Any, Any, T], name: str, *, awaited: bool = False) -> asyncio.Task[T]:
    """Start `coro` as a named task that cannot be garbage-collected and whose failure is
    logged. `awaited`: whoever started it awaits it and deals with its failure, so spawn only
    names and tracks it."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_running.discard if awaited else _done)
    return task


def _done(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        _log.error("background task failed", task=task.get_name(), error=repr(exc), exc_info=exc)


def running(prefix: str = "") -> list[asyncio.Task[Any]]:
    """Tasks started by spawn() that are still running, optionally by name prefix."""
    return [t for t in _running if not t.done() and t.get_name().startswith(prefix)]


async def retried(
    call: Callable[[], Awaitable[T]],
    attempts: int,
    what: str,
    log: Any = _log,
    *,
    pause: float = 0.05,
) -> T:
    """`call()`, tried up to `attempts` times, pausing `pause` seconds (50 ms) after the first
    failure and twice as long after each next one (a database that blinks); each failure is
    logged as "`what` failed", and the last one is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            log.warning(f"{what} failed", attempt=attempt, error=repr(exc))
            if attempt == attempts:
                raise
        await asyncio.sleep(pause)
        pause *= 2
    raise ValueError("attempts must be at least 1")
