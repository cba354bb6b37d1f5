"""Every bench in bench/ still runs end to end, in a tiny profile of a few seconds, and its
figures make sense; each refuses a nonsensical profile with exit status 2.

The full profiles are commands people run and report; these only keep them from rotting.
The loopback benches run on SQLite here: PostgreSQL would add seconds for code paths the
suite's database harnesses already cover, and the benches share one database name on it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BENCHES = Path(__file__).resolve().parents[2] / "bench"
BENCH = BENCHES / "http_hotpaths.py"


@pytest.mark.parametrize("generator", ["asyncio", "wrk"])
def test_the_benchmark_runs_a_tiny_profile(generator: str) -> None:
    if generator == "wrk" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--duration=1",
            "--max-requests=50",
            "--instances=2",
            "--warmup=0",
            "--startup-runs=1",
            f"--generator={generator}",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["generator"] == generator
    for name in ("connectionState", "fetchInstances"):
        figures = report["endpoints"][name]
        assert figures["errors"] == 0
        # the budget bounds the run (wrk may count the answers already in flight)
        assert 0 < figures["requests"] <= 50 + report["connections"]
        assert figures["rps"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert report["rss_mb"]["with_instances"] > 10
    assert 0 < report["startup"]["median_s"] < 60
    assert set(report["targets"]) == {
        "connectionState_rps",
        "fetchInstances_rps",
        "idle_rss_mb",
        "startup_s",
    }


def test_the_benchmark_refuses_a_nonsensical_profile() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--max-requests=0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 2
    assert "must be positive" in out.stderr


# --- the other benches -------------------------------------------------------------------


def run_bench(script: str, *args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCHES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def quiet(stderr: str) -> bool:
    """No traceback and no asyncio 'Exception in callback' noise."""
    return "Traceback" not in stderr and "Exception in callback" not in stderr


def check_durability(report: Any, _: Path) -> None:
    assert report["ok"] is True
    assert report["kills"] == 1
    assert report["events"] > 0
    assert report["missing"] == 0
    assert report["out_of_order"] == 0
    assert report["mismatched_duplicates"] == 0
    assert report["received"] == report["events"] + report["duplicates"]
    assert report["opens_seen"] >= report["acknowledged_opens"] > 0


def check_throughput(report: Any, _: Path) -> None:
    (run,) = report
    assert run["database"] == "sqlite"
    sat = run["saturation"]
    assert sat["events"] == 150
    assert sat["emit_per_s"] > 0 and sat["delivered_per_s"] > 0 and sat["cpu_us_per_event"] > 0
    # every event of the fixed-rate phase (100/s over 3 instances for 0.5 s) arrived once
    assert run["rate"] == 100
    assert run["latency_ms_at_rate"]["samples"] == int(100 / 3 * 0.5) * 3
    latency = run["latency_ms_at_rate"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert run["duplicates"] == 0


def check_history(report: Any, _: Path) -> None:
    (run,) = report
    assert run["database"] == "sqlite"
    assert run["messages"] == 200 and run["announced_messages"] == 200
    assert run["events"]["messaging-history.set"] == 1
    assert run["events"]["chats.set"] >= 1 and run["events"]["messages.set"] >= 1
    assert run["stored_s"] is not None and run["delivered_s"] is not None
    assert run["largest_event_kb"] > 0


def check_lifecycle(report: Any, _: Path) -> None:
    # a fixed seed draws the same sequences every run: a violation here is a real one
    assert report["sequences_run"] >= 20
    assert report["steps_run"] >= report["sequences_run"]
    assert report["sequences_violated"] == 0 and report["by_invariant"] == {}


def check_link_preview(report: Any, _: Path) -> None:
    assert report["sends_per_case"] == 3
    assert report["thumbnail_bytes"] > 0
    for case in ("plain", "link_off", "preview_cold", "preview_cached"):
        assert 0 < report[case]["median_ms"] <= report[case]["p90_ms"]
    assert report["plain"]["added_ms"] == 0


def check_media(report: Any, _: Path) -> None:
    assert report["runs"] == 1
    cases = report["cases"]
    voice = ("voice_wav_2s", "voice_mp3_2s", "voice_m4a_2s", "voice_opus_passthrough_2s")
    stickers = ("sticker_png_1mb", "sticker_gif_1s", "sticker_mp4_1s")
    assert set(voice + stickers) <= set(cases) <= {*voice, *stickers, "pillow_png_1mb"}
    for figures in cases.values():
        assert figures["in_bytes"] > 0 and figures["out_bytes"] > 0
        assert figures["median_ms"] >= 0 and figures["child_cpu_ms"] >= 0
    passthrough = cases["voice_opus_passthrough_2s"]
    assert passthrough["out_bytes"] == passthrough["in_bytes"]  # Ogg/Opus is kept as it is


def check_messaging(report: Any, _: Path) -> None:
    (run,) = report
    assert run["database"] == "sqlite"
    assert run["messages"] == 50 and run["delivered"] == 50
    assert run["failures"] == 0 and run["duplicates"] == 0
    assert run["api_per_s"] > 0 and run["delivered_per_s"] > 0
    assert 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["p99"] <= run["latency_ms"]["max"]


def check_inbound(report: Any, _: Path) -> None:
    assert report["ok"] is True
    assert report["messages"] == report["acknowledged"] == 40 and report["kills"] == 1
    assert report["lost"] == 0 and report["announced_under_two_event_ids"] == 0
    assert report["stored"] == report["announced"] == 40
    assert report["acknowledged_per_s"] > 0 and report["server_cpu_ms_per_message"] > 0


def check_network_down(report: Any, _: Path) -> None:
    assert report["ok"] is True
    assert [p["policy"] for p in report["policies"]] == ["defaults", "never-give-up"]
    for policy in report["policies"]:
        assert policy["instances"] == 2 and len(policy["attempts_per_minute"]) == 1
        assert 0 < policy["worst_minute"] <= report["aim_per_minute"]
        assert policy["recovered"] == 2
        assert all(states == ["open"] for states in policy["updates_when_back"].values())


def check_neonize(report: Any, workdir: Path) -> None:
    (row,) = report
    assert json.loads((workdir / "rows.json").read_text()) == [row]  # --json writes the same
    assert row["shard"] == 1 and row["instances"] == 1 and row["hosts"] == 1
    assert row["closed_early"] == 0
    assert 0 < row["uss_mb"] <= row["pss_mb"] <= row["rss_mb"]


def check_webhook_client(report: Any, _: Path) -> None:
    assert report["loop"] == "uvloop" and report["posts"] == 40 and report["runs"] == 1
    figures = report["figures"]
    assert set(figures) == {"http c=1", "https c=1", "http c=2", "https c=2"}
    for clients in figures.values():
        for name in ("keepalive", "httpx2"):
            assert clients[name]["cpu_us_per_post"] > 0 and clients[name]["posts_per_s"] > 0
        assert clients["httpx2_cpu_ratio"] > 0


def check_request_limits(report: Any, _: Path) -> None:
    assert report["baseline"]["health_probes"] > 0 and report["baseline"]["health_errors"] == 0
    big = report["big_bodies"]
    assert big["health_probes"] > 0 and big["health_errors"] == 0
    assert big["big_requests"] > 0 and set(big["big_answers"]) <= {"cut", "413"}
    for phase in ("slow_body", "slow_header"):
        slow = report[phase]
        assert slow["slow_clients"] == slow["slow_cut"] == 5 and slow["slow_held_open"] == 0


def check_sqs(report: Any, _: Path) -> None:
    assert report["events"] == report["arrived"] == 20 and report["instances"] == 2
    assert report["delivered_per_s"] > 0 and report["cpu_us_per_event"] > 0
    assert report["failed_attempts"] == 0


def json_lines(stdout: str) -> Any:
    """neonize_rss prints one JSON row per measurement, then a table."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def ffmpeg_missing() -> bool:
    from wagate.messaging.convert import find_ffmpeg

    return find_ffmpeg(None) is None


def neonize_missing() -> bool:
    from wagate.engines.neonize import available

    return not available()


PROFILES: dict[str, tuple[str, Callable[[Any, Path], None]]] = {
    "events_durability.py": ("--events 40 --instances 2 --refuse 0.3 --kills 1", check_durability),
    "events_throughput.py": (
        "--events 150 --instances 3 --seconds 0.5 --rate 100 --db sqlite",
        check_throughput,
    ),
    "inbound_durability.py": (
        "--messages 40 --instances 2 --kills 1 --concurrency 4 --seed 1",
        check_inbound,
    ),
    "history_sync.py": ("--messages 200 --chats 5 --db sqlite", check_history),
    "lifecycle_model.py": ("--sequences 20 --steps 10 --seed 1 --json", check_lifecycle),
    "link_preview.py": ("--sends 3 --page-kb 8", check_link_preview),
    "media_convert.py": ("--runs 1 --voice-seconds 2 --clip-seconds 1", check_media),
    "messaging.py": ("--messages 50 --concurrency 4 --db sqlite", check_messaging),
    "network_down.py": ("--instances 2 --minutes 1 --json", check_network_down),
    "neonize_rss.py": (
        "--counts 1 --shards 1 --settle 0.5 --json {workdir}/rows.json",
        check_neonize,
    ),
    "request_limits.py": (
        "--clients 1 --seconds 0.5 --slow 5 --deadline 0.5",
        check_request_limits,
    ),
    "sqs_throughput.py": ("--events 20 --instances 2", check_sqs),
    "webhook_client.py": ("--posts 40 --concurrency 1,2 --runs 1", check_webhook_client),
}
"""Each bench's tiny profile (a few seconds) and what its figures must say."""


def test_every_bench_has_a_profile() -> None:
    # container_image.py builds and runs the container image (root, buildah, minutes): it has
    # no tiny profile; tests/unit/test_container.py checks what the image promises.
    # openapi_fuzz.py is the long run of tests/api/test_openapi_fuzz.py, its short profile
    others = {"loopback.py", "http_hotpaths.py", "container_image.py", "openapi_fuzz.py"}
    scripts = {p.name for p in BENCHES.glob("*.py")} - others
    assert scripts == set(PROFILES)


@pytest.mark.parametrize("script", sorted(PROFILES))
def test_the_bench_runs_a_tiny_profile(script: str, tmp_path: Path) -> None:
    if script == "media_convert.py" and ffmpeg_missing():
        pytest.skip("no ffmpeg")
    if script == "neonize_rss.py" and neonize_missing():
        pytest.skip("neonize is not installed")
    args, check = PROFILES[script]
    out = run_bench(script, *(a.format(workdir=tmp_path) for a in args.split()))
    assert out.returncode == 0, out.stderr
    assert quiet(out.stderr), out.stderr
    report = json_lines(out.stdout) if script == "neonize_rss.py" else json.loads(out.stdout)
    check(report, tmp_path)


NONSENSE = [
    ("events_durability.py", ["--events", "0"], "--events and --instances must be at least 1"),
    ("events_durability.py", ["--refuse", "-1"], "cannot be negative"),
    ("events_throughput.py", ["--events", "2", "--instances", "3"], "--events at least"),
    ("events_throughput.py", ["--db", "sqlite,oracle"], "--db takes a comma-separated list"),
    ("inbound_durability.py", ["--messages", "0"], "must be at least 1"),
    ("inbound_durability.py", ["--kills", "-1"], "--kills cannot be negative"),
    ("history_sync.py", ["--chats", "0"], "--messages and --chats must be at least 1"),
    ("lifecycle_model.py", ["--steps", "0"], "--sequences and --steps must be at least 1"),
    ("link_preview.py", ["--sends", "0"], "--sends must be at least 1"),
    ("media_convert.py", ["--runs", "0"], "must be at least 1"),
    ("messaging.py", ["--concurrency", "0"], "--messages and --concurrency must be at least 1"),
    ("messaging.py", ["--runs", "0"], "--runs must be at least 1"),
    ("network_down.py", ["--minutes", "0"], "--instances and --minutes must be at least 1"),
    ("neonize_rss.py", ["--shards", "0"], "--counts and --shards must be at least 1"),
    ("webhook_client.py", ["--concurrency", "0"], "must be positive"),
    ("sqs_throughput.py", ["--events", "0"], "--events and --instances must be at least 1"),
    ("container_image.py", ["--startup-runs", "0"], "--startup-runs must be at least 1"),
]


@pytest.mark.parametrize(
    ("script", "args", "message"), NONSENSE, ids=[f"{s}:{' '.join(a)}" for s, a, _ in NONSENSE]
)
def test_the_bench_refuses_a_nonsensical_profile(
    script: str, args: list[str], message: str
) -> None:
    out = run_bench(script, *args, timeout=30)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr


def test_the_sqs_bench_runs_a_tiny_profile() -> None:
    pytest.importorskip("moto")
    out = subprocess.run(
        [sys.executable, str(BENCHES / "sqs_throughput.py"), "--events=40", "--instances=2"],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["events"] == 40 and report["arrived"] == 40
    assert report["delivered_per_s"] > 0 and report["cpu_us_per_event"] > 0
    bad = subprocess.run(
        [sys.executable, str(BENCHES / "sqs_throughput.py"), "--events=0"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
