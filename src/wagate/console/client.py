"""A small synchronous client of a running wagate server, for the `wagate instances` commands."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote

import httpx2
import orjson


class ClientError(Exception):
    """A request failed; the message says why in words an operator can act on."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _message(body: Any, status: int) -> str:
    if isinstance(body, dict):
        msg = (body.get("response") or {}).get("message") if "response" in body else None
        if isinstance(msg, list):
            flat: list[str] = []
            for part in msg:
                flat.extend(part if isinstance(part, list) else [part])
            return "; ".join(str(p) for p in flat)
        if msg:
            return str(msg)
    return f"HTTP {status}"


@dataclass(slots=True)
class Server:
    url: str
    apikey: str
    timeout: float = 15.0

    def _client(self, timeout: httpx2.Timeout | float | None = None) -> httpx2.Client:
        return httpx2.Client(
            base_url=self.url,
            headers={"apikey": self.apikey},
            timeout=self.timeout if timeout is None else timeout,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; the decoded JSON body, or ClientError with the server's message."""
        try:
            with self._client() as client:
                res = client.request(method, path, **kwargs)
        except httpx2.ConnectError:
            raise ClientError(
                f"cannot reach wagate at {self.url}: is `wagate serve` running there? "
                "(set --url or WAGATE_URL)"
            ) from None
        except httpx2.HTTPError as exc:
            raise ClientError(f"request to {self.url} failed: {exc}") from None
        try:
            body = res.json() if res.content else None
        except ValueError:
            body = res.text
        if res.status_code >= 400:
            hint = " (check --apikey / WAGATE_APIKEY)" if res.status_code == 401 else ""
            raise ClientError(_message(body, res.status_code) + hint, res.status_code)
        return body

    def instance_path(self, verb: str, name: str) -> str:
        return f"/instance/{verb}/{quote(name, safe='')}"

    def events(self, instance: str) -> EventFeed:
        return EventFeed(self, instance)


class EventFeed:
    """The server's live event stream for one instance, read on a thread into a queue.

    `start()` returns once the server has subscribed the stream, so no event that happens
    afterwards is missed. Items are envelopes (dicts) or an Exception when the stream ended."""

    def __init__(self, server: Server, instance: str) -> None:
        self._server = server
        self._instance = instance
        self.items: queue.Queue[dict[str, Any] | Exception] = queue.Queue()
        self._ready = threading.Event()
        self._live = False
        self._client: httpx2.Client | None = None
        self._thread = threading.Thread(target=self._run, name="wagate-events", daemon=True)

    def start(self, timeout: float = 10.0) -> bool:
        """True when the stream is live; False if it could not be opened (then poll)."""
        self._thread.start()
        self._ready.wait(timeout)
        return self._live

    def close(self) -> None:
        client = self._client
        if client is not None:
            try:
                client.close()
            except Exception:
                pass

    def __iter__(self) -> Iterator[dict[str, Any] | Exception]:
        while True:
            yield self.items.get()

    def _run(self) -> None:
        self._client = self._server._client(httpx2.Timeout(10.0, read=None))
        try:
            with self._client.stream(
                "GET", "/manager/api/events", params={"instance": self._instance}
            ) as res:
                if res.status_code != 200:
                    res.read()
                    raise ClientError(_message(_json(res.content), res.status_code))
                data: list[str] = []
                for line in res.iter_lines():
                    if line.startswith(":"):
                        self._live = True
                        self._ready.set()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif line == "" and data:
                        self.items.put(orjson.loads("\n".join(data)))
                        data = []
            self.items.put(ClientError("the event stream ended"))
        except Exception as exc:
            self.items.put(exc)
        finally:
            self._ready.set()


def _json(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def say(text: str = "", file: TextIO | None = None) -> None:
    """One line for the operator (stdout unless told)."""
    out = sys.stdout if file is None else file
    out.write(text + "\n")
