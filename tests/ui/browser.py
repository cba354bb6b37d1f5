"""Headless Chromium for the UI tests: the driver (Debian's chromium and chromedriver, with no
network beyond loopback), and a Page helper that waits, clicks and takes screenshots."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.live import LiveServer
from tests.ui.conftest import ARTIFACTS, CHROMEDRIVER

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Nothing beyond loopback resolves: a page that needs a CDN shows it.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@contextmanager
def chrome(chromium: Path, width: int = 1280, height: int = 1100) -> Iterator[WebDriver]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="wagate-chromium-") as profile:
        options = Options()
        options.binary_location = str(chromium)
        for flag in (*FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        driver.set_page_load_timeout(20)
        try:
            yield driver
        finally:
            driver.quit()


class Page:
    """The Manager as a user sees it."""

    def __init__(self, driver: WebDriver, live: LiveServer, prefix: str) -> None:
        self.d = driver
        self.prefix = prefix
        self.live = live
        self.shots: list[Path] = []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob(f"{prefix}-*.png"):
            old.unlink()

    def shot(self, name: str) -> None:
        path = ARTIFACTS / f"{self.prefix}-{len(self.shots) + 1:02d}-{name}.png"
        self.d.save_screenshot(str(path))
        self.shots.append(path)

    def wait(self, what: str, cond: Any, timeout: float = 20) -> Any:
        return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(cond, message=what)

    def css(self, selector: str) -> Any:
        return self.d.find_element(By.CSS_SELECTOR, selector)

    def visible(self, selector: str) -> bool:
        return bool(
            self.d.execute_script(
                "const e = document.querySelector(arguments[0]);"
                "return !!e && e.checkVisibility();",
                selector,
            )
        )

    def text(self, selector: str) -> str:
        got = self.d.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            selector,
        )
        return str(got)

    def row_state(self, name: str) -> str:
        got = self.d.execute_script(
            'const e = document.querySelector(`tr[data-instance="${arguments[0]}"] .badge`);'
            "return e ? e.dataset.state : '';",
            name,
        )
        return str(got)

    def press(self, label: str) -> None:
        """Click the button a screen reader would announce as `label` (rows may re-render)."""
        for _ in range(20):
            try:
                self.css(f'button[aria-label="{label}"]').click()
                return
            except StaleElementReferenceException:
                continue
        raise AssertionError(f"could not press {label!r}")

    def confirm(self) -> None:
        self.wait("the confirmation dialog", lambda d: self.visible("#confirm"))
        self.css("#confirm-ok").click()
