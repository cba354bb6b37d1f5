"""The Manager on the real (neonize) engine when WhatsApp cannot be reached: Connect says why,
and the row shows the cause and what to do instead of "connection lost … wait"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import API_KEY
from tests.live import LiveServer, free_port, run_server
from wagate.engines.neonize import available

pytest.importorskip("selenium.webdriver")
if not available():  # pragma: no cover - the dependency is locked
    pytest.skip("neonize is not installed", allow_module_level=True)

from tests.ui.browser import Page, chrome


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real engine, every connection through a proxy port that refuses."""
    yield from run_server(
        tmp_path_factory.mktemp("manager-no-route"),
        WAGATE_ENGINE="neonize",
        WAGATE_NEONIZE_PROXY=f"http://127.0.0.1:{free_port()}",
        WAGATE_CONNECT_WAIT_SECONDS="25",
        WAGATE_RECONNECT_INITIAL_SECONDS="0.5",
        WAGATE_RECONNECT_MAX_SECONDS="2",
    )


@pytest.mark.timeout(900)
def test_the_row_names_the_cause_and_the_action(chromium: Path, unreachable: LiveServer) -> None:
    live = unreachable
    live.call(
        "POST", "/instance/create", json={"instanceName": "far", "integration": "WHATSAPP-BAILEYS"}
    )
    with chrome(chromium, 1400, 1000) as driver:
        page = Page(driver, live, "no-route")
        driver.get(f"{live.url}/manager")
        page.wait("the sign-in form", lambda d: page.visible("#apikey"))
        page.css("#apikey").send_keys(API_KEY)
        page.css("#login-form button[type=submit]").click()
        page.wait("the row", lambda d: page.row_state("far") == "close")
        page.press("Connect far")
        page.wait(
            "the refusal",
            lambda d: "No route to WhatsApp: proxy unreachable" in page.text("#notice"),
            timeout=60,
        )
        row = 'tr[data-instance="far"]'
        page.wait(
            "the cause in the row",
            lambda d: "No route to WhatsApp: proxy unreachable" in page.text(f"{row} .reason"),
            timeout=20,
        )
        assert "Check this machine's internet access" in page.text(f"{row} .todo")
        assert "WAGATE_ENGINE=sim" in page.text(f"{row} .todo")
        assert "Wait" not in page.text(f"{row} .todo")
        page.shot("row")
