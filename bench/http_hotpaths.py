"""Benchmark wagate's HTTP hot paths against the real server, over loopback.

Starts `python -m wagate serve` as a subprocess on a free 127.0.0.1 port (a temporary
WAGATE_DATA_DIR, a random AUTHENTICATION_API_KEY, SQLite by default), creates N instances through
the API, then measures requests/s and p50/p99 latency of

  GET /instance/connectionState/{instance}   (rotating over the N instances, global key)
  GET /instance/fetchInstances               (global key, all N instances)

with `wrk` when it is installed (a Lua script rotates the paths, stops each thread after its share
of the request budget and prints the latency percentiles), else with an asyncio HTTP/1.1
keep-alive generator of its own. Every run stops by itself: a fixed duration and a bounded
request count, and it only ever talks to 127.0.0.1.

It also reports the server's idle RSS (/proc/<pid>/status VmRSS, after start and after creating
the instances) and its start-up time (spawn until GET /health answers 200, over a migrated
database holding the instances; median of --startup-runs; the first start on an empty database,
which applies the migrations, is reported separately). Unless --no-bytecode-cache, the server
runs without PYTHONDONTWRITEBYTECODE, as from a user's shell, so the .pyc files are written once
and later starts read them. The server's CPU time per request is reported too: on cores shared
with other work it is steadier than requests/s.

Run it with the project's interpreter: `.venv/bin/python bench/http_hotpaths.py --help`.
Exit status: 0 when every request got a 200, 1 when some did not (or --check-targets and a
target was missed), 2 when the server could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PG_URI = "postgresql://postgres@127.0.0.1:5432/test"
MYSQL_URI = "mysql://root@127.0.0.1:3306/test"
# Aims of the foundation issue, on 2 cores.
TARGETS = {
    "connectionState_rps": 4000.0,
    "fetchInstances_rps": 1000.0,
    "idle_rss_mb": 80.0,
    "startup_s": 1.0,
}
# Settings the parent environment must not leak into the benchmarked server.
SCRUBBED_PREFIXES = ("AUTHENTICATION_", "DATABASE_", "SERVER_", "WAGATE_", "CACHE_", "DEL_")


class BenchError(Exception):
    """The server did not start or answer as expected."""


# --- the server under test ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerConfig:
    python: str
    data_dir: Path
    api_key: str
    database: str
    database_uri: str | None
    client_name: str
    log_level: str
    bytecode_cache: bool
    engine: str | None
    rate_limit: float | None = None


class Server:
    """One `python -m wagate serve` subprocess."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = cfg.data_dir / f"server-{self.port}.log"
        self.startup_cpu_s = 0.0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env.update(
            AUTHENTICATION_API_KEY=self.cfg.api_key,
            WAGATE_DATA_DIR=str(self.cfg.data_dir),
            DATABASE_PROVIDER=self.cfg.database,
            DATABASE_CONNECTION_CLIENT_NAME=self.cfg.client_name,
            LOG_LEVEL=self.cfg.log_level,
            WAGATE_ENGINE="sim",  # no engine on these paths; pinned so figures stay comparable
            PYTHONPATH=os.pathsep.join(
                p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p
            ),
        )
        if self.cfg.database_uri:
            env["DATABASE_CONNECTION_URI"] = self.cfg.database_uri
        if self.cfg.engine:
            env["WAGATE_ENGINE"] = self.cfg.engine
        if self.cfg.rate_limit:
            env["WAGATE_RATE_LIMIT_PER_KEY"] = str(self.cfg.rate_limit)
        if self.cfg.bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's shell: .pyc cached once
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def start(self, timeout: float = 60.0) -> float:
        """Spawn the server; return the seconds until GET /health answered 200."""
        cmd = [self.cfg.python, "-m", "wagate", "serve", "--host", HOST, "--port", str(self.port)]
        log = self.log_path.open("ab")
        t0 = time.perf_counter()
        # cwd is the data dir, so a developer's .env in the work tree is not read.
        self.proc = subprocess.Popen(
            cmd, cwd=self.cfg.data_dir, env=self.env(), stdout=log, stderr=log
        )
        log.close()
        deadline = t0 + timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"the server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            if self._health_ok():
                wall = time.perf_counter() - t0
                self.startup_cpu_s = self.cpu_seconds()
                return wall
            if time.perf_counter() > deadline:
                self.stop()
                raise BenchError(f"no 200 from /health within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.005)

    def _health_ok(self) -> bool:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            conn.request("GET", "/health")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process (all its threads) has used so far."""
        assert self.proc is not None
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident set size of the server process, from /proc/<pid>/status."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise BenchError("no VmRSS in /proc status")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            headers = {"apikey": self.cfg.api_key}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["content-type"] = "application/json"
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# --- load generators ---------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    generator: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Load:
    """What to send: the paths (rotated), for how long, how many requests at most."""

    port: int
    paths: list[str]
    api_key: str
    duration: float
    max_requests: int
    connections: int


WRK_LUA = """
local paths = {%(paths)s}
local limit = %(limit)d
local reqs = {}
local sent = 0
local answered = 0
function init(args)
  for i, p in ipairs(paths) do reqs[i] = wrk.format("GET", p) end
end
function request()
  sent = sent + 1
  return reqs[(sent %% #reqs) + 1]
end
function response(status, headers, body)
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(load: Load, wrk: str, workdir: Path) -> LoadResult:
    """One wrk thread (the server is one process); the Lua script bounds the request count."""
    threads = 1
    conns = max(load.connections, threads)
    script = workdir / "bench.lua"
    script.write_text(
        WRK_LUA
        % {
            "paths": ", ".join(json.dumps(p) for p in load.paths),
            "limit": max(1, load.max_requests // threads),
        }
    )
    seconds = max(1, round(load.duration))
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{conns}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-H",
        f"apikey: {load.api_key}",
        "-s",
        str(script),
        f"http://{HOST}:{load.port}{load.paths[0]}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    data = json.loads(line[len("BENCH ") :])
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        generator="wrk",
    )


class _Budget:
    """Shared by the connections of one asyncio run."""

    def __init__(self, load: Load, loop: asyncio.AbstractEventLoop) -> None:
        host = f"Host: {HOST}:{load.port}\r\napikey: {load.api_key}\r\n\r\n"
        self.requests = [f"GET {p} HTTP/1.1\r\n{host}".encode() for p in load.paths]
        self.left = load.max_requests
        self.deadline = time.perf_counter() + load.duration
        self.latencies: list[float] = []
        self.errors = 0
        self.open = 0
        self.finished = loop.create_future()
        self.last_answer = time.perf_counter()


class _Client(asyncio.Protocol):
    """One keep-alive connection with one request in flight (no pipelining)."""

    def __init__(self, budget: _Budget, offset: int) -> None:
        self.b = budget
        self.i = offset
        self.buf = bytearray()
        self.need = -1
        self.status = 0
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.b.open += 1
        self.send()

    def send(self) -> None:
        b = self.b
        assert self.transport is not None
        now = time.perf_counter()
        if b.left <= 0 or now >= b.deadline:
            self.transport.close()
            return
        b.left -= 1
        self.i += 1
        self.sent_at = now
        self.transport.write(b.requests[self.i % len(b.requests)])

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                self.b.errors += 1  # only Content-Length bodies are expected here
                assert self.transport is not None
                self.transport.close()
                return
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop > 0 else len(head)])
            self.need = end + 4 + length
        if len(self.buf) < self.need:
            return
        now = time.perf_counter()
        self.b.latencies.append(now - self.sent_at)
        self.b.last_answer = now
        if self.status != 200:
            self.b.errors += 1
        del self.buf[: self.need]
        self.need = -1
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.need >= 0 or self.buf:
            self.b.errors += 1  # dropped with an answer half read
        self.b.open -= 1
        if self.b.open == 0 and not self.b.finished.done():
            self.b.finished.set_result(None)


async def _asyncio_load(load: Load) -> LoadResult:
    loop = asyncio.get_running_loop()
    budget = _Budget(load, loop)
    t0 = time.perf_counter()
    for n in range(load.connections):
        await loop.create_connection(functools.partial(_Client, budget, n), HOST, load.port)
    try:
        await asyncio.wait_for(budget.finished, load.duration + 30)
    except TimeoutError:
        raise BenchError("the load run did not finish: the server stopped answering") from None
    elapsed = budget.last_answer - t0
    lat = sorted(budget.latencies)
    return LoadResult(
        requests=len(lat),
        seconds=elapsed,
        errors=budget.errors,
        p50_ms=_percentile(lat, 50) * 1000,
        p99_ms=_percentile(lat, 99) * 1000,
        generator="asyncio",
    )


def run_asyncio(load: Load) -> LoadResult:
    try:
        import uvloop

        return uvloop.run(_asyncio_load(load))
    except ImportError:
        return asyncio.run(_asyncio_load(load))


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


# --- the benchmark -----------------------------------------------------------------------------


@dataclass
class EndpointFigures:
    runs: list[dict[str, Any]] = field(default_factory=list)
    rps: float = 0.0
    # the server's CPU time per request: robust when other work shares the cores
    cpu_us_per_request: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    errors: int = 0


@dataclass
class Report:
    generator: str
    database: str
    instances: int
    connections: int
    duration_s: float
    max_requests: int
    cpus: int
    bytecode_cache: bool
    endpoints: dict[str, EndpointFigures] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    startup: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark wagate's hot HTTP paths (connectionState, fetchInstances), idle "
        "RSS and start-up time against a real server on 127.0.0.1.",
    )
    p.add_argument("--duration", type=float, default=5.0, help="seconds per load run (5)")
    p.add_argument(
        "--max-requests", type=int, default=200_000, help="request budget per load run (200000)"
    )
    p.add_argument("--connections", type=int, default=16, help="keep-alive connections (16)")
    p.add_argument("--instances", type=int, default=10, help="instances to create (10)")
    p.add_argument("--repeat", type=int, default=1, help="load runs per endpoint; median (1)")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per endpoint (1)")
    p.add_argument("--startup-runs", type=int, default=5, help="restarts timed; median (5)")
    p.add_argument(
        "--generator",
        choices=["auto", "wrk", "asyncio"],
        default="auto",
        help="load generator: wrk when installed, else asyncio (auto)",
    )
    p.add_argument("--database", choices=["sqlite", "postgresql", "mysql"], default="sqlite")
    p.add_argument(
        "--database-uri",
        help=f"for postgresql/mysql (default {PG_URI} / {MYSQL_URI})",
    )
    p.add_argument("--python", default=sys.executable, help="interpreter that runs the server")
    p.add_argument("--log-level", default="INFO", help="the server's LOG_LEVEL (INFO)")
    p.add_argument(
        "--engine",
        choices=["sim", "neonize"],
        help="the server's WAGATE_ENGINE (sim: the hot paths use no engine)",
    )
    p.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run the server with PYTHONDONTWRITEBYTECODE=1 (every start compiles the sources "
        "that have no .pyc yet); by default the variable is dropped, as in a user's shell",
    )
    p.add_argument(
        "--rate-limit-per-key",
        type=float,
        help="run the server with WAGATE_RATE_LIMIT_PER_KEY (a rate above the load measures "
        "the limiter's cost on the hot paths)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON only")
    p.add_argument("--check-targets", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    if args.duration <= 0 or args.max_requests < 1 or args.connections < 1:
        p.error("--duration, --max-requests and --connections must be positive")
    if args.instances < 1 or args.repeat < 1 or args.startup_runs < 1:
        p.error("--instances, --repeat and --startup-runs must be at least 1")
    return args


def pick_generator(choice: str) -> str | None:
    """The wrk binary, or None for the asyncio generator."""
    wrk = shutil.which("wrk")
    if choice == "wrk" and wrk is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    return wrk if choice in ("auto", "wrk") else None


def measure(load: Load, wrk: str | None, workdir: Path) -> LoadResult:
    return run_wrk(load, wrk, workdir) if wrk else run_asyncio(load)


def bench(args: argparse.Namespace, log: Any) -> Report:
    wrk = pick_generator(args.generator)
    uri = args.database_uri
    if args.database == "postgresql" and not uri:
        uri = PG_URI
    if args.database == "mysql" and not uri:
        uri = MYSQL_URI
    report = Report(
        generator="wrk" if wrk else "asyncio",
        database=args.database,
        instances=args.instances,
        connections=args.connections,
        duration_s=args.duration,
        max_requests=args.max_requests,
        cpus=os.cpu_count() or 0,
        bytecode_cache=not args.no_bytecode_cache,
    )
    with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
        workdir = Path(tmp)
        tag = secrets.token_hex(4)
        cfg = ServerConfig(
            python=args.python,
            data_dir=workdir,
            api_key=secrets.token_urlsafe(32),
            database=args.database,
            database_uri=uri,
            # its own partition, so a shared database's other instances are never touched
            client_name=f"bench-{tag}",
            log_level=args.log_level,
            bytecode_cache=not args.no_bytecode_cache,
            engine=args.engine,
            rate_limit=args.rate_limit_per_key,
        )
        names = [f"bench-{tag}-{i}" for i in range(args.instances)]

        server = Server(cfg)
        try:
            report.startup["first_s"] = server.start()
            report.startup["first_cpu_s"] = server.startup_cpu_s
            log(f"first start (empty database, migrations): {report.startup['first_s']:.3f} s")
            time.sleep(0.5)  # let the start-up settle before reading RSS
            report.rss_mb["idle"] = server.rss_mb()
            for name in names:
                status, body = server.request(
                    "POST",
                    "/instance/create",
                    {"instanceName": name, "integration": "WHATSAPP-BAILEYS"},
                )
                if status != 201:
                    raise BenchError(f"create {name}: {status} {body}")
            status, body = server.request("GET", "/instance/fetchInstances")
            if status != 200 or len(body) != args.instances:
                raise BenchError(f"fetchInstances: {status}, {len(body or [])} rows")
            time.sleep(0.5)
            report.rss_mb["with_instances"] = server.rss_mb()
            log(
                f"idle RSS: {report.rss_mb['idle']:.1f} MB after start, "
                f"{report.rss_mb['with_instances']:.1f} MB with {args.instances} instances"
            )
            endpoints = {
                "connectionState": [f"/instance/connectionState/{n}" for n in names],
                "fetchInstances": ["/instance/fetchInstances"],
            }
            for label, paths in endpoints.items():
                base = Load(
                    server.port,
                    paths,
                    cfg.api_key,
                    args.duration,
                    args.max_requests,
                    args.connections,
                )
                if args.warmup > 0:
                    warm = Load(**{**asdict(base), "duration": args.warmup})
                    measure(warm, wrk, workdir)
                figures = EndpointFigures()
                for _ in range(args.repeat):
                    cpu0 = server.cpu_seconds()
                    res = measure(base, wrk, workdir)
                    cpu_us = (server.cpu_seconds() - cpu0) * 1e6 / max(1, res.requests)
                    figures.runs.append(
                        {**asdict(res), "rps": res.rps, "cpu_us_per_request": cpu_us}
                    )
                    log(
                        f"{label:>16}: {res.rps:8.0f} req/s  p50 {res.p50_ms:6.2f} ms  "
                        f"p99 {res.p99_ms:6.2f} ms  server CPU {cpu_us:6.0f} us/request  "
                        f"({res.requests} requests in "
                        f"{res.seconds:.2f} s, {res.errors} errors, {res.generator})"
                    )
                figures.rps = statistics.median(r["rps"] for r in figures.runs)
                figures.p50_ms = statistics.median(r["p50_ms"] for r in figures.runs)
                figures.p99_ms = statistics.median(r["p99_ms"] for r in figures.runs)
                figures.cpu_us_per_request = statistics.median(
                    r["cpu_us_per_request"] for r in figures.runs
                )
                figures.requests = sum(r["requests"] for r in figures.runs)
                figures.errors = sum(r["errors"] for r in figures.runs)
                report.endpoints[label] = figures
        finally:
            server.stop()

        runs, cpu = [], []
        for i in range(args.startup_runs):
            server = Server(cfg)
            try:
                runs.append(server.start())
                cpu.append(server.startup_cpu_s)
                if i == args.startup_runs - 1 and args.database != "sqlite":
                    for name in names:  # leave a shared database as it was
                        server.request("DELETE", f"/instance/delete/{name}")
            finally:
                server.stop()
        report.startup["runs_s"] = runs
        report.startup["median_s"] = statistics.median(runs)
        report.startup["cpu_runs_s"] = cpu
        report.startup["median_cpu_s"] = statistics.median(cpu)
        log(
            f"start-up with {args.instances} instances: median {report.startup['median_s']:.3f} s"
            f" of {', '.join(f'{r:.3f}' for r in runs)} (server CPU median "
            f"{report.startup['median_cpu_s']:.3f} s)"
        )

    figures_by_target = {
        "connectionState_rps": report.endpoints["connectionState"].rps,
        "fetchInstances_rps": report.endpoints["fetchInstances"].rps,
        "idle_rss_mb": report.rss_mb["with_instances"],
        "startup_s": report.startup["median_s"],
    }
    for key, aim in TARGETS.items():
        value = figures_by_target[key]
        met = value >= aim if key.endswith("_rps") else value <= aim
        report.targets[key] = {"value": round(value, 3), "aim": aim, "met": met}
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(msg: str) -> None:
        if not args.json:
            print(msg, flush=True)

    try:
        report = bench(args, log)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(f"\n{report.generator}, {report.database}, {report.cpus} CPUs, targets:")
        for key, t in report.targets.items():
            print(
                f"  {key:>20}: {t['value']:>10} (aim {t['aim']}) {'ok' if t['met'] else 'MISSED'}"
            )
    errors = sum(f.errors for f in report.endpoints.values())
    if errors:
        print(f"bench: {errors} requests failed", file=sys.stderr)
        return 1
    if args.check_targets and not all(t["met"] for t in report.targets.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
