"""`retried`: the one retry loop of the message pipeline's database reads and writes."""

from __future__ import annotations

import pytest

from wagate.runtime.tasks import retried


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, object]]] = []

    def warning(self, event: str, **fields: object) -> None:
        self.lines.append((event, fields))


async def test_a_failure_that_passes_is_retried_and_logged() -> None:
    calls = 0
    log = _Log()

    async def blinks() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise OSError("connection reset")
        return "read"

    assert await retried(blinks, 5, "thing lookup", log) == "read"
    assert calls == 3
    assert [(e, f["attempt"]) for e, f in log.lines] == [
        ("thing lookup failed", 1),
        ("thing lookup failed", 2),
    ]


async def test_the_last_failure_is_raised_after_every_attempt() -> None:
    calls = 0
    log = _Log()

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise OSError(f"down {calls}")

    with pytest.raises(OSError, match="down 3"):
        await retried(down, 3, "thing write", log)
    assert calls == 3 and [f["attempt"] for _, f in log.lines] == [1, 2, 3]
