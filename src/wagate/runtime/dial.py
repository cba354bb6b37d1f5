"""A TCP dial under a deadline: whether a host and port answer (a proxy, before a session
dials through it). Importable by every layer."""

from __future__ import annotations

import asyncio


async def dial(host: str, port: int, timeout: float) -> str | None:
    """Open and close one TCP connection; None when it worked, else why not, in a few words."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return f"{host}:{port} did not answer within {timeout:g} s"
    except (OSError, ValueError, UnicodeError) as exc:
        return (
            f"{host}:{port}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
        )
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return None
