"""A real server for the CLI tests, and the `wagate` command in a real terminal (pexpect)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveServer, run_server


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory.mktemp("cli"), WAGATE_SIM_QR_INTERVAL_SECONDS="2")
