"""The Manager in real headless Chromium: sign in, create, see the QR rotate, pair through the
sim, watch `open` arrive without a reload, log out, delete. Screenshots of each step go to
artifacts/manager/."""

from __future__ import annotations

import pytest

from tests.conftest import API_KEY
from tests.live import LiveServer

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.ui.browser import Page


# The first test may install Chromium with apt-get (minutes); the flow itself takes ~15 s.
@pytest.mark.timeout(900)
def test_manager_end_to_end(browser: WebDriver, live: LiveServer) -> None:
    page = Page(browser, live, "flow")
    name = "browser-demo"
    browser.get(f"{live.url}/manager")
    page.wait("the sign-in form", lambda d: page.visible("#apikey"))
    page.shot("sign-in")

    # A wrong key is refused with a message; the right one opens the dashboard.
    page.css("#apikey").send_keys("not-the-key-at-all")
    page.css("#login-form button[type=submit]").click()
    page.wait("the refusal", lambda d: "not accepted" in page.text("#login-error"))
    page.css("#apikey").clear()
    page.css("#apikey").send_keys(API_KEY)
    page.css("#login-form button[type=submit]").click()
    page.wait("the dashboard", lambda d: page.visible("#instances"))
    page.wait("the live stream", lambda d: page.text("#live") == "live")
    assert page.visible("#create-form")
    assert browser.execute_script("return sessionStorage.getItem('wagate.apikey')") == API_KEY
    page.shot("signed-in")

    page.css("#new-name").send_keys(name)
    page.css("#create-form button[type=submit]").click()
    page.wait("the new row", lambda d: page.row_state(name) == "close")
    token = page.text("#token-value")
    assert len(token) >= 16 and page.visible("#token-box")
    page.shot("created")

    # From here on the page must never reload: a marker on window survives only without one.
    browser.execute_script("window.__noReload = 42")
    page.press(f"Connect {name}")
    page.wait("the QR code", lambda d: page.visible("#qr"))
    first = page.css("#qr").get_attribute("src")
    assert first.startswith("data:image/png;base64,")
    assert page.row_state(name) == "connecting"
    assert "scan" in page.text("#pair-state").lower()
    page.shot("qr-code")
    page.wait(
        "the QR code to rotate (every 3 s)",
        lambda d: page.css("#qr").get_attribute("src") != first,
    )
    page.shot("qr-code-rotated")

    # The simulated phone scans it; the row turns open by itself.
    scanned = live.call("POST", f"/sim/{name}/scan", json={"number": "5511999990042"})
    assert scanned["state"] == "open"
    page.wait("the state to turn open", lambda d: page.row_state(name) == "open")
    page.wait(
        "the pairing panel", lambda d: "Connected as 5511999990042" in page.text("#pair-state")
    )
    page.wait("the event in the live tail", lambda d: "open (200)" in page.text("#events"))
    assert not page.visible("#qr-box")
    assert browser.execute_script("return window.__noReload") == 42
    page.shot("open")

    # Below: the webhook, deliveries and settings panels answer from their routes.
    browser.execute_script("document.getElementById('settings-form').scrollIntoView()")
    page.wait("the deliveries panel", lambda d: page.text("#deliveries-note") != "")
    assert "No deliveries yet" in page.text("#deliveries-note")
    assert "No webhook is set" in page.text("#webhook-note")
    page.wait("the settings", lambda d: d.find_element(By.ID, "msg-call") is not None)
    page.shot("panels")

    page.press(f"Log out {name}")
    page.confirm()
    page.wait("the state to turn close", lambda d: page.row_state(name) == "close")
    page.wait("the reason", lambda d: "401" in page.text(f'tr[data-instance="{name}"] .reason'))
    state = live.call("GET", f"/instance/connectionState/{name}")
    assert state["instance"]["state"] == "close"
    page.shot("logged-out")

    page.press(f"Delete {name}")
    page.wait("the confirmation dialog", lambda d: page.visible("#confirm"))
    assert name in page.text("#confirm-text")
    page.shot("delete-confirmation")
    page.css("#confirm-ok").click()
    page.wait("the row to go", lambda d: not d.find_elements(By.CSS_SELECTOR, "tr[data-instance]"))
    page.wait("the empty list note", lambda d: page.visible("#empty"))
    assert live.call("GET", "/instance/fetchInstances") == []
    assert browser.execute_script("return window.__noReload") == 42
    page.shot("deleted")

    page.css("#signout").click()
    page.wait("the sign-in form again", lambda d: page.visible("#apikey"))
    assert browser.execute_script("return sessionStorage.getItem('wagate.apikey')") is None
    page.shot("signed-out")
    assert all(p.stat().st_size > 5000 for p in page.shots)


@pytest.mark.timeout(900)
def test_instance_token_sees_only_its_instance(browser: WebDriver, live: LiveServer) -> None:
    page = Page(browser, live, "token")
    baileys = {"integration": "WHATSAPP-BAILEYS"}
    mine = live.call("POST", "/instance/create", json={"instanceName": "tok-mine", **baileys})
    live.call("POST", "/instance/create", json={"instanceName": "tok-other", **baileys})
    try:
        browser.get(f"{live.url}/manager")
        page.wait("the sign-in form", lambda d: page.visible("#apikey"))
        page.css("#apikey").send_keys(mine["hash"])
        page.css("#login-form button[type=submit]").click()
        page.wait("the row", lambda d: page.row_state("tok-mine") == "close")
        rows = browser.find_elements(By.CSS_SELECTOR, "tr[data-instance]")
        assert [r.get_attribute("data-instance") for r in rows] == ["tok-mine"]
        assert not page.visible("#create-form")
        assert "Instance token (tok-mine)" in page.text("#whoami")
        page.shot("instance-token")
    finally:
        for n in ("tok-mine", "tok-other"):
            live.call("DELETE", f"/instance/delete/{n}")
