"""Fixtures of the Manager tests: a real server, and Debian's Chromium (installed with apt-get
when missing, never downloaded from anywhere else)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import ROOT, LiveServer, run_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "artifacts" / "manager"


def _install_chromium() -> str | None:
    """Install Debian's chromium and chromium-driver; None when done, else why not."""
    apt = shutil.which("apt-get")
    if apt is None:
        return "apt-get is not available: install Chromium and chromedriver at /usr/bin"
    if os.geteuid() != 0:
        return "not root: run `apt-get install chromium chromium-driver` as root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [
        apt,
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "chromium",
        "chromium-driver",
    ]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:  # a fresh system has no package lists yet
        subprocess.run([apt, "update", "-q"], env=env, capture_output=True, timeout=300)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        return f"apt-get install chromium chromium-driver failed: {done.stderr.strip()[-400:]}"
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        why = _install_chromium()
        if why is not None:
            pytest.skip(why)
    return CHROMIUM


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`wagate serve` on SQLite, the sim engine, QR codes rotating every 3 s."""
    yield from run_server(
        tmp_path_factory.mktemp("live"), WAGATE_SIM_QR_INTERVAL_SECONDS="3", QRCODE_LIMIT="50"
    )


@pytest.fixture
def browser(chromium: Path) -> Iterator[object]:
    """Headless Chromium, 1280×1100, no network beyond loopback."""
    pytest.importorskip("selenium.webdriver")
    from tests.ui.browser import chrome

    with chrome(chromium) as driver:
        yield driver
