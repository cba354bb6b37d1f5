"""The hot-path benchmark still runs end to end (a tiny profile: 1 s, 50 requests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "http_hotpaths.py"


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
