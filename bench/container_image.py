"""Build the container image from the Dockerfile and run it, on a machine with no Docker engine
and no container registry: only buildah and a Debian root filesystem (both Debian packages).

1. The base: a Debian bookworm root filesystem made with mmdebstrap (or debootstrap) from
   Debian's package mirror, imported as an image (the machine's own extra CA certificates go
   in too, for a network that intercepts TLS). Made once, then reused (--rebuild-base).
2. The image: `buildah bud --isolation chroot` on the Dockerfile, with BASE_IMAGE naming that
   base; its configuration is checked (non-root user, /data volume, health check, tini).
3. Started with `buildah run --isolation chroot` (the host's network, so a loopback port):
   the time until /health answers, the image's own HEALTHCHECK command run beside it, a sim
   instance created, connected, scanned open and sending a text and a sticker (ffmpeg); a
   SIGTERM to the container's first process (tini, as `docker stop` sends it) and the time
   until everything has exited; a second start on the same /data, where the instance opens
   again from its stored credentials.
4. A start with compose.yaml's settings for wagate (the neonize engine), on this machine's
   PostgreSQL instead of the compose service: an instance's connect runs a host process in
   the image, which loads neonize's Go library and dials WhatsApp (unreachable here; the
   instance says why); the instance is deleted, then a clean stop.

Needs root, buildah and mmdebstrap or debootstrap (`apt-get install buildah mmdebstrap`).

    sudo .venv/bin/python bench/container_image.py                 # base if missing, build, run
    sudo .venv/bin/python bench/container_image.py --reuse-layers --json
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-image-key-0123456789abcdef"
SUITE = "bookworm"


class Failed(Exception):
    """A check of the image failed; the message says which."""


def log(message: str) -> None:
    print(f"container_image: {message}", file=sys.stderr, flush=True)


def run(*argv: str, timeout: float = 1800, capture: bool = True) -> str:
    out = subprocess.run(
        argv, capture_output=capture, text=True, timeout=timeout, check=False, cwd=ROOT
    )
    if out.returncode != 0:
        detail = (out.stderr or out.stdout or "")[-3000:] if capture else ""
        raise Failed(f"{' '.join(argv[:3])} … exited {out.returncode}\n{detail}")
    return out.stdout if capture else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def image_exists(name: str) -> bool:
    probe = ["buildah", "inspect", "--type", "image", name]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


# --- 1. the base --------------------------------------------------------------------------


def make_base(name: str) -> float:
    """A Debian root filesystem from Debian's mirror, imported as the image `name`."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wagate-base-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        # The machine's own apt sources (same mirror and suites as Debian's images: the
        # release, its updates and security), else mmdebstrap's default mirror.
        sources = Path("/etc/apt/sources.list.d/debian.sources")
        mirrors = [str(sources)] if sources.exists() else []
        # What Debian's slim images leave out.
        slim = [
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/info/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        ]
        if shutil.which("mmdebstrap"):
            log("making the Debian base with mmdebstrap")
            run(
                "mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar", *slim,
                SUITE, str(tarball), *mirrors,
            )  # fmt: skip
        else:
            log("making the Debian base with debootstrap")
            rootfs = Path(tmp) / "rootfs"
            run("debootstrap", "--variant=minbase", SUITE, str(rootfs))
            run("tar", "-C", str(rootfs), "-cf", str(tarball), ".")
        container = run("buildah", "from", "scratch").strip()
        try:
            run("buildah", "add", container, str(tarball), "/")
            extra_cas = Path("/usr/local/share/ca-certificates")
            if extra_cas.is_dir() and any(extra_cas.iterdir()):
                run("buildah", "add", container, str(extra_cas), str(extra_cas))
            run(
                "buildah", "config", "--cmd", "bash",
                "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                container,
            )  # fmt: skip
            run("buildah", "commit", "--quiet", container, name)
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
    return time.monotonic() - started


# --- 2. the image -------------------------------------------------------------------------


def build(tag: str, base: str, reuse_layers: bool) -> float:
    log(f"building {tag} on {base}" + (" (reusing layers)" if reuse_layers else ""))
    started = time.monotonic()
    run(
        "buildah", "bud", "--isolation", "chroot", "--format", "docker", "--pull-never",
        "--layers" if reuse_layers else "--no-cache",
        "--build-arg", f"BASE_IMAGE={base}", "--tag", tag, "--file", "Dockerfile", ".",
    )  # fmt: skip
    return time.monotonic() - started


def image_config(tag: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(run("buildah", "inspect", "--type", "image", tag))
    return config


def check_config(docker: dict[str, Any]) -> dict[str, Any]:
    """What the Dockerfile promises, as the built image says it."""
    config = docker["config"]
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    health = config.get("Healthcheck") or {}
    found = {
        "user": config.get("User"),
        "volumes": sorted(config.get("Volumes") or {}),
        "entrypoint": config.get("Entrypoint"),
        "cmd": config.get("Cmd"),
        "healthcheck": health.get("Test"),
        "server_host": env.get("SERVER_HOST"),
        "data_dir": env.get("WAGATE_DATA_DIR"),
    }
    problems = []
    if found["user"] in (None, "", "root", "0"):
        problems.append("the image runs as root")
    if found["volumes"] != ["/data"]:
        problems.append(f"volumes are {found['volumes']}, not ['/data']")
    if not found["healthcheck"] or "/health" not in " ".join(found["healthcheck"]):
        problems.append("no HEALTHCHECK on /health")
    if not found["entrypoint"] or found["entrypoint"][0] != "tini":
        problems.append("tini is not the entrypoint")
    if found["server_host"] != "0.0.0.0" or found["data_dir"] != "/data":
        problems.append("SERVER_HOST or WAGATE_DATA_DIR is not set for a container")
    if problems:
        raise Failed("; ".join(problems))
    return found


def compose_check() -> str:
    """compose.yaml as a compose implementation reads it (docker-compose, where installed)."""
    tool = shutil.which("docker-compose")
    if tool is None:
        return "not checked (no docker-compose)"
    run(tool, "--file", "compose.yaml", "config", "--quiet")
    return "valid (" + run(tool, "version", "--short").strip() + ")"


def image_size(tag: str) -> dict[str, int]:
    """Bytes of the image as `docker save` writes it (layers unpacked) and as a registry holds
    it (gzip-compressed layers, what `docker pull` downloads)."""
    with tempfile.TemporaryDirectory(prefix="wagate-image-") as tmp:
        archive = Path(tmp) / "image.tar"
        run("buildah", "push", "--quiet", tag, f"docker-archive:{archive}")
        unpacked = archive.stat().st_size
        archive.unlink()
        run("buildah", "push", "--quiet", "--format", "oci", tag, f"oci:{tmp}/oci")
        index = json.loads((Path(tmp) / "oci/index.json").read_text())
        digest = index["manifests"][0]["digest"].split(":", 1)[1]
        manifest = json.loads((Path(tmp) / "oci/blobs/sha256" / digest).read_text())
        compressed = sum(int(layer["size"]) for layer in manifest["layers"])
    return {"unpacked": unpacked, "compressed": compressed}


# --- 3. and 4. the image, running -----------------------------------------------------------


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: Any = None, timeout: float = 15) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("apikey", API_KEY)
        if data is not None:
            request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise Failed(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None

    def wait_for(self, what: str, path: str, ok: Any, seconds: float) -> Any:
        deadline = time.monotonic() + seconds
        last: Any = None
        while time.monotonic() < deadline:
            last = self.call("GET", path)
            if ok(last):
                return last
            time.sleep(0.1)
        raise Failed(f"{what}: not within {seconds} s; last answer {last}")


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, parents first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def command_of(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


class Running:
    """`tini -- wagate serve` in a working container, as its entrypoint would start it."""

    def __init__(
        self, container: str, entrypoint: list[str], port: int, env: dict[str, str]
    ) -> None:
        self.container, self.entrypoint, self.port = container, entrypoint, port
        # tini here is not PID 1 (no PID namespace): it reaps as a subreaper instead
        self.env = {**env, "TINI_SUBREAPER": "1"}
        self.api = Api(port)
        self.proc: subprocess.Popen[bytes] | None = None
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)

    def start(self) -> float:
        """Seconds from the start command to /health answering 200."""
        flags = [f"--env={k}={v}" for k, v in self.env.items()]
        started = time.monotonic()
        self.proc = subprocess.Popen(
            ["buildah", "run", "--isolation", "chroot", *flags, self.container,
             "--", *self.entrypoint, "serve"],
            stdout=self.output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = started + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failed(f"the server exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.api.base + "/health", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.02)
        raise Failed(f"/health did not answer within 60 s:\n{self.log()}")

    def log(self) -> str:
        self.output.seek(0)
        return self.output.read().decode(errors="replace")[-4000:]

    def first_process(self) -> int:
        """The container's tini (what `docker stop` signals)."""
        assert self.proc is not None
        for pid in descendants(self.proc.pid):
            if Path(command_of(pid)[0]).name == "tini":
                return pid
        raise Failed("no tini process in the container")

    def processes(self) -> list[str]:
        assert self.proc is not None
        return [" ".join(command_of(pid)).strip() for pid in descendants(self.proc.pid)]

    def stop(self) -> tuple[float, int]:
        """SIGTERM to tini; (seconds until every process exited, the exit status)."""
        assert self.proc is not None
        tini = self.first_process()
        tree = descendants(self.proc.pid)
        started = time.monotonic()
        os.kill(tini, signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failed(f"still running 30 s after SIGTERM:\n{self.log()}") from None
        while any(Path(f"/proc/{pid}").exists() for pid in tree):
            if time.monotonic() - started > 30:
                raise Failed("processes of the container outlived it")
            time.sleep(0.02)
        return time.monotonic() - started, status

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            for pid in reversed(descendants(self.proc.pid)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait()


@contextmanager
def working_container(tag: str) -> Iterator[str]:
    container = run("buildah", "from", "--pull-never", tag).strip()
    try:
        yield container
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


def sticker_png() -> str:
    """A 64x64 gradient PNG, base64."""
    pixels = b"".join(
        b"\0" + b"".join(bytes((x * 4, y * 4, 128)) for x in range(64)) for y in range(64)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(png).decode()


def sim_flow(server: Running) -> dict[str, Any]:
    api = server.api
    created = api.call(
        "POST", "/instance/create", {"instanceName": "demo", "integration": "WHATSAPP-BAILEYS"}
    )
    if created["instance"]["instanceName"] != "demo":
        raise Failed(f"create answered {created}")
    qr = api.call("GET", "/instance/connect/demo")
    if not qr.get("code") or not str(qr.get("base64", "")).startswith("data:image/png"):
        raise Failed(f"connect answered no QR code: {qr}")
    api.call("POST", "/sim/demo/scan", {"number": "5511999990001"})
    api.wait_for(
        "the instance opening",
        "/instance/connectionState/demo",
        lambda r: r["instance"]["state"] == "open",
        10,
    )
    api.call("POST", "/sim/contacts", {"number": "5521988880001", "pushName": "Ana"})
    text = api.call("POST", "/message/sendText/demo", {"number": "5521988880001", "text": "hi"})
    sticker = api.call(
        "POST", "/message/sendSticker/demo", {"number": "5521988880001", "sticker": sticker_png()}
    )
    if text["key"]["fromMe"] is not True or "stickerMessage" not in sticker["message"]:
        raise Failed(f"sends answered {text} and {sticker}")
    return {"state": "open", "sent": ["text", "sticker"]}


def healthcheck_in_image(server: Running, docker: dict[str, Any]) -> int:
    """The image's HEALTHCHECK command, run in the container beside the server: its status."""
    test = docker["config"]["Healthcheck"]["Test"]
    argv = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
    probe = subprocess.run(
        ["buildah", "run", "--isolation", "chroot", f"--env=SERVER_PORT={server.port}",
         server.container, "--", *argv],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        raise Failed(f"the HEALTHCHECK command failed: {probe.stderr[-1000:]}")
    return probe.returncode


def files_in_data(container: str) -> list[str]:
    """What the server wrote in /data (the container's volume), each owned by wagate."""
    listing = run(
        "buildah", "run", "--isolation", "chroot", container, "--",
        "find", "/data", "-mindepth", "1", "-printf", "%u %P\\n",
    )  # fmt: skip
    rows = [line.split(" ", 1) for line in listing.splitlines()]
    owners = {owner for owner, _ in rows}
    if owners != {"wagate"}:
        raise Failed(f"/data holds files owned by {owners}, not only by wagate")
    return sorted(name for _, name in rows if "/" not in name)


def run_overhead(tag: str) -> float:
    """Seconds `buildah run` itself takes to run `true` (the start-up figures include it)."""
    with working_container(tag) as container:
        started = time.monotonic()
        run("buildah", "run", "--isolation", "chroot", container, "--", "true")
        return time.monotonic() - started


def run_sim(tag: str, docker: dict[str, Any], startup_runs: int) -> dict[str, Any]:
    port = free_port()
    env = {"SERVER_PORT": str(port), "AUTHENTICATION_API_KEY": API_KEY, "WAGATE_ENGINE": "sim"}
    report: dict[str, Any] = {}
    with working_container(tag) as container:
        server = Running(container, docker["config"]["Entrypoint"], port, env)
        try:
            startups = [server.start()]
            report["health"] = server.api.call("GET", "/health")
            report["healthcheck_status"] = healthcheck_in_image(server, docker)
            report["manager_page"] = urllib.request.urlopen(
                server.api.base + "/manager", timeout=5
            ).status
            report["sim"] = sim_flow(server)
            report["processes"] = server.processes()
            report["stop_s"], report["exit_status"] = server.stop()
            if report["exit_status"] != 0:
                raise Failed(f"exit status {report['exit_status']} after SIGTERM")
            report["data_files"] = files_in_data(container)
            # Again on the same /data: the instance comes back open from its credentials.
            for _ in range(startup_runs):
                server = Running(container, docker["config"]["Entrypoint"], port, env)
                startups.append(server.start())
                state = server.api.wait_for(
                    "the instance reopening after a restart",
                    "/instance/connectionState/demo",
                    lambda r: r["instance"]["state"] == "open",
                    15,
                )
                report["after_restart"] = state["instance"]["state"]
                stop_s, status = server.stop()
                report["stop_s"] = max(report["stop_s"], stop_s)
                if status != 0:
                    raise Failed(f"exit status {status} after SIGTERM:\n{server.log()}")
            report["startup_s"] = {
                "first": round(startups[0], 2),
                "median_restart": round(statistics.median(startups[1:]), 2),
            }
        except BaseException:
            log(server.log())
            server.kill()
            raise
    return report


def compose_environment() -> dict[str, str]:
    """compose.yaml's settings for wagate, with nothing set in its .env (the defaults)."""
    import re

    import yaml

    env = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["wagate"]["environment"]
    return {
        name: re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", str(value))
        for name, value in env.items()
    }


def fresh_database(server: str, name: str) -> str | None:
    """A new database `name` on the PostgreSQL at `server` (its URI), or None if it does not
    answer."""
    import asyncio

    import asyncpg  # type: ignore[import-untyped]

    async def create() -> None:
        conn = await asyncpg.connect(server, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except OSError:
        return None
    return server.rsplit("/", 1)[0] + "/" + name


def run_neonize(tag: str, docker: dict[str, Any], postgres: str) -> dict[str, Any]:
    """compose.yaml's wagate settings (the neonize engine), its database on this machine's
    PostgreSQL instead of the compose service (SQLite when that does not answer)."""
    port = free_port()
    env = compose_environment()
    uri = fresh_database(postgres, "wagate_image")
    if uri:
        env["DATABASE_CONNECTION_URI"] = uri
    else:
        env["DATABASE_PROVIDER"], env["DATABASE_CONNECTION_URI"] = "sqlite", ""
    env.update(
        SERVER_PORT=str(port),
        SERVER_URL=f"http://127.0.0.1:{port}",
        AUTHENTICATION_API_KEY=API_KEY,
    )
    with working_container(tag) as container:
        server = Running(container, docker["config"]["Entrypoint"], port, env)
        try:
            server.start()
            health = server.api.call("GET", "/health")
            if health["engine"] != "neonize" or not health["database"]["ok"]:
                raise Failed(f"/health answered {health}")
            server.api.call(
                "POST",
                "/instance/create",
                {"instanceName": "real", "integration": "WHATSAPP-BAILEYS"},
            )
            server.api.call("GET", "/instance/connect/real")
            # The host process dials (and, with no route to WhatsApp here, fails): the
            # lifecycle says why, in whatsmeow's words, so the Go library ran in the image.
            state = server.api.wait_for(
                "the neonize host's connect attempt",
                "/instance/connectionState/real",
                lambda r: bool((r.get("lifecycle") or {}).get("detail")),
                40,
            )
            hosts = [p for p in server.processes() if "wagate.engines.neonize" in p]
            if not hosts:
                raise Failed(f"no neonize host process ran: {server.processes()}")
            deleted = server.api.call("DELETE", "/instance/delete/real")
            stop_s, status = server.stop()
            if status != 0:
                raise Failed(f"exit status {status} after SIGTERM")
        except BaseException:
            log(server.log())
            server.kill()
            raise
    return {
        "database": health["database"]["provider"],
        "host_processes": hosts,
        "lifecycle": {k: state["lifecycle"][k] for k in ("state", "reason", "detail")},
        "deleted": deleted.get("status"),
        "stop_s": round(stop_s, 2),
        "exit_status": status,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default="localhost/wagate:bench", help="the image to build")
    parser.add_argument(
        "--base", default="localhost/wagate-base:bookworm", help="the Debian base image"
    )
    parser.add_argument("--rebuild-base", action="store_true", help="make the base again")
    parser.add_argument(
        "--reuse-layers", action="store_true", help="reuse layers of an earlier build"
    )
    parser.add_argument("--no-build", action="store_true", help="run the image already built")
    parser.add_argument("--startup-runs", type=int, default=3, help="restarts to time")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server for the compose settings' run (a database is made there)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    if args.startup_runs < 1:
        parser.error("--startup-runs must be at least 1")
    missing = [tool for tool in ("buildah",) if shutil.which(tool) is None]
    if not (shutil.which("mmdebstrap") or shutil.which("debootstrap")):
        missing.append("mmdebstrap (or debootstrap)")
    if missing or os.geteuid() != 0:
        print(
            f"container_image: needs root and {', '.join(missing) or 'buildah'} "
            "(apt-get install buildah mmdebstrap)",
            file=sys.stderr,
        )
        return 2
    report: dict[str, Any] = {}
    try:
        if args.rebuild_base or not image_exists(args.base):
            report["base_s"] = round(make_base(args.base), 1)
        if not args.no_build:
            report["build_s"] = round(build(args.tag, args.base, args.reuse_layers), 1)
            report["layers_reused"] = args.reuse_layers
        docker = image_config(args.tag)["Docker"]
        report["config"] = check_config(docker)
        report["compose"] = compose_check()
        report["size_bytes"] = image_size(args.tag)
        report["buildah_run_overhead_s"] = round(run_overhead(args.tag), 2)
        log("running the image with the sim engine")
        report["sim_engine"] = run_sim(args.tag, docker, args.startup_runs)
        log("running the image with compose.yaml's settings (the neonize engine)")
        report["neonize_engine"] = run_neonize(args.tag, docker, args.postgres)
    except Failed as exc:
        print(f"container_image: FAILED: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        show(report)
    return 0


def show(report: dict[str, Any]) -> None:
    size = report["size_bytes"]
    sim, real = report["sim_engine"], report["neonize_engine"]
    lines = [
        f"base image made in        {report['base_s']} s" if "base_s" in report else None,
        f"image built in            {report['build_s']} s"
        + (" (layers reused)" if report.get("layers_reused") else " (no cache)")
        if "build_s" in report
        else None,
        f"image size                {size['unpacked'] / 1e6:.0f} MB unpacked, "
        f"{size['compressed'] / 1e6:.0f} MB compressed",
        f"compose.yaml              {report['compose']}",
        f"runs as                   {report['config']['user']}, "
        f"volume {report['config']['volumes']}",
        f"start-up to /health       {sim['startup_s']['first']} s first start, "
        f"{sim['startup_s']['median_restart']} s median restart "
        f"(buildah run alone: {report['buildah_run_overhead_s']} s)",
        f"/health                   {json.dumps(sim['health'])}",
        f"HEALTHCHECK command       exit {sim['healthcheck_status']}",
        f"/manager                  {sim['manager_page']}",
        f"sim instance              {sim['sim']['state']}, sent {', '.join(sim['sim']['sent'])}; "
        f"after a restart: {sim['after_restart']}",
        f"/data                     {', '.join(sim['data_files'])}",
        f"SIGTERM to tini: exited   {sim['stop_s']:.2f} s (worst), status {sim['exit_status']}",
        f"compose settings          database {real['database']}, engine neonize",
        f"neonize host processes    {len(real['host_processes'])}: {real['host_processes'][0]}",
        f"neonize connect           {json.dumps(real['lifecycle'])[:300]}",
        f"neonize instance deleted  {real['deleted']}; stop {real['stop_s']} s, "
        f"status {real['exit_status']}",
    ]
    print("\n".join(line for line in lines if line))


if __name__ == "__main__":
    sys.exit(main())
