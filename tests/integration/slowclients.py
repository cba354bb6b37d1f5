"""Big-body and slow-client attacks on a real server, shared by
tests/integration/test_request_limits_server.py (small) and bench/request_limits.py (figures).

The attackers are threads with raw sockets (the server is a subprocess, so they never share its
event loop): `big` clients send 100 MB bodies over and over (half announce the length to an
unknown path without a key, half stream it chunked to a keyed route), while a prober times
GET /health. `slow_body` clients announce 100 MB and send 6 bytes; `slow_header` clients send
half a request line. Each slow client reports how long the server held it."""

from __future__ import annotations

import multiprocessing
import os
import selectors
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MB = 1024 * 1024


@dataclass
class Figures:
    health_ms: list[float] = field(default_factory=list)
    health_errors: int = 0
    big_requests: int = 0
    big_answers: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    server_cpu_share: float = 0.0
    """The server's CPU time over the wall time of the attack (1.0 = one core busy)."""
    held_s: list[float] = field(default_factory=list)
    """Per slow client: seconds from its last byte until the server answered or closed."""
    held_open: int = 0
    """Slow clients still open at the end of their wait (never cut)."""
    statuses: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        ms = sorted(self.health_ms)
        out: dict[str, object] = {
            "health_probes": len(ms),
            "health_errors": self.health_errors,
            "big_requests": self.big_requests,
            "big_answers": self.big_answers,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "server_cpu_share": round(self.server_cpu_share, 2),
        }
        if ms:
            out |= {
                "health_p50_ms": round(statistics.median(ms), 2),
                "health_p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
                "health_max_ms": round(ms[-1], 2),
            }
        if self.held_s:
            out |= {
                "slow_clients": len(self.held_s) + self.held_open,
                "slow_cut": len(self.held_s),
                "slow_held_open": self.held_open,
                "slow_cut_after_max_s": round(max(self.held_s), 2),
                "slow_statuses": self.statuses,
            }
        return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status(data: bytes) -> str:
    parts = data.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 and data.startswith(b"HTTP/") else "closed"


def _big_client(port: int, key: str, chunked: bool, stop: threading.Event, figs: Figures) -> None:
    body = b"[" * MB  # what a depth scan would have to walk
    lock = threading.Lock()
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                if chunked:
                    head = (
                        "POST /instance/create HTTP/1.1\r\nHost: x\r\n"
                        f"apikey: {key}\r\ncontent-type: application/json\r\n"
                        "transfer-encoding: chunked\r\n\r\n"
                    )
                    s.sendall(head.encode())
                    for _ in range(100):
                        s.sendall(b"%x\r\n" % len(body) + body + b"\r\n")
                    s.sendall(b"0\r\n\r\n")
                else:
                    head = (
                        "POST /no/such/path HTTP/1.1\r\nHost: x\r\n"
                        f"content-length: {100 * MB}\r\n\r\n"
                    )
                    s.sendall(head.encode())
                    for _ in range(100):
                        s.sendall(body)
                answer = _status(s.recv(4096))
        except OSError:  # the server cut us off mid-body: the point
            answer = "cut"
        with lock:
            figs.big_requests += 1
            figs.big_answers[answer] = figs.big_answers.get(answer, 0) + 1


def _prober(port: int, stop: threading.Event, figs: Figures, every: float) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    while not stop.is_set():
        began = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(request)
                data = s.recv(4096)
            if _status(data) == "200":
                figs.health_ms.append((time.perf_counter() - began) * 1000)
            else:
                figs.health_errors += 1
        except OSError:
            figs.health_errors += 1
        time.sleep(every)


def _attackers(port: int, key: str, clients: int, stop: Any, out: Any) -> None:
    """The big-body clients, in a process of their own (the prober's timings never wait for
    the attackers' interpreter), at the lowest CPU priority: on one machine the attackers'
    own CPU time is not the server's doing, and real ones would be on other machines."""
    os.nice(19)
    figs = Figures()
    halt = threading.Event()
    threads = [
        threading.Thread(target=_big_client, args=(port, key, i % 2 == 1, halt, figs), daemon=True)
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    stop.wait()
    halt.set()
    for t in threads:
        t.join(30)
    out.put((figs.big_requests, figs.big_answers))


def big_bodies(port: int, key: str, pid: int, clients: int, seconds: float) -> Figures:
    """`clients` clients sending 100 MB bodies for `seconds`, /health probed every 20 ms."""
    ctx = multiprocessing.get_context("fork")
    stop, out = ctx.Event(), ctx.Queue()
    attackers = ctx.Process(target=_attackers, args=(port, key, clients, stop, out), daemon=True)
    attackers.start()
    figs = Figures()
    halt = threading.Event()
    prober = threading.Thread(target=_prober, args=(port, halt, figs, 0.02), daemon=True)
    prober.start()
    began, cpu = time.monotonic(), cpu_seconds(pid)
    while time.monotonic() < began + seconds:
        figs.peak_rss_mb = max(figs.peak_rss_mb, rss_mb(pid))
        time.sleep(0.05)
    figs.server_cpu_share = (cpu_seconds(pid) - cpu) / (time.monotonic() - began)
    halt.set()
    stop.set()
    prober.join(30)
    figs.big_requests, figs.big_answers = out.get(timeout=60)
    attackers.join(30)
    return figs


def slow_clients(
    port: int, key: str, clients: int, kind: str, wait: float, length: int = 100 * MB
) -> Figures:
    """`clients` connections that stop sending: `kind` "body" (`length` bytes announced, 6
    sent) or "header" (half a request line). Each waits up to `wait` seconds to be cut."""
    figs = Figures()
    socks: list[socket.socket] = []
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if kind == "body":
            s.sendall(
                b"POST /instance/create HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                + f"apikey: {key}\r\ncontent-length: {length}\r\n\r\n".encode()
                + b'{"ins\n'
            )
        else:
            s.sendall(b"POST /instance/cre")
        socks.append(s)
    sent = time.monotonic()
    pending = list(socks)

    sel = selectors.DefaultSelector()
    for s in pending:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    open_ = set(pending)
    while open_ and time.monotonic() - sent < wait:
        for ready, _ in sel.select(timeout=0.1):
            sock = ready.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            figs.held_s.append(time.monotonic() - sent)
            status = _status(data)
            figs.statuses[status] = figs.statuses.get(status, 0) + 1
            sel.unregister(sock)
            open_.discard(sock)
    figs.held_open = len(open_)
    for s in socks:
        s.close()
    return figs
