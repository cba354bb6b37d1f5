"""The loopback receiver the webhook tests and benches share: stopping it is quiet."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.events.receiver import Receiver


def test_stopping_with_a_kept_alive_connection_leaves_nothing_to_cancel() -> None:
    """A handler still waiting for its connection's next request ends with `stop()`, so the
    loop has nothing left to cancel at exit (on Python 3.11 that logged a CancelledError
    traceback from the stream callback, after every bench run)."""
    problems: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: problems.append(ctx))
        rec = await Receiver().start()
        reader, writer = await asyncio.open_connection("127.0.0.1", rec.port)
        writer.write(b"POST /a HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
        await reader.readuntil(b"\r\n\r\n")  # answered; the connection stays open
        await rec.stop()
        writer.close()
        assert [r.path for r in rec.received] == ["/a"]

    asyncio.run(main())
    assert problems == []
