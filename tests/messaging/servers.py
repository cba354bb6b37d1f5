"""The base of the messaging tests' loopback HTTP servers (media files, web pages, an audio
converter): a listening socket on 127.0.0.1, one connection at a time handed to `answer`."""

from __future__ import annotations

import asyncio
from typing import Self


class LoopbackServer:
    """A bare HTTP server on 127.0.0.1; a subclass answers each connection in `answer`. A client
    that goes away, or the server stopping, just ends the connection."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> Self:
        """Listen on `port` (0: one of its own)."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.answer(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
