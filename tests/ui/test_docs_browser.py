"""/docs in real headless Chromium with no network beyond loopback: Swagger UI renders from
wagate's own assets, Authorize takes the apikey, and "Try it out" answers 200 with it."""

from __future__ import annotations

import pytest

from tests.conftest import API_KEY
from tests.live import LiveServer

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.remote.webdriver import WebDriver

from tests.ui.browser import Page


@pytest.mark.timeout(900)
def test_docs_render_offline_and_try_it_out_works_with_the_key(
    browser: WebDriver, live: LiveServer
) -> None:
    live.call(
        "POST",
        "/instance/create",
        json={"instanceName": "docs-demo", "integration": "WHATSAPP-BAILEYS"},
    )
    page = Page(browser, live, "docs")
    try:
        browser.get(f"{live.url}/docs")
        page.wait("Swagger UI", lambda d: page.visible(".swagger-ui .info .title"), timeout=20)
        assert "wagate" in page.text(".swagger-ui .info .title")
        assert page.visible('.opblock-tag[data-tag="instance"]')
        page.shot("rendered")

        page.css(".btn.authorize").click()
        page.wait("the Authorize dialog", lambda d: page.visible(".auth-container input"))
        assert "apikey" in page.text(".auth-container")
        page.css(".auth-container input").send_keys(API_KEY)
        page.css(".auth-btn-wrapper .authorize").click()
        page.wait("the key taken", lambda d: "Authorized" in page.text(".auth-container"))
        page.shot("authorized")
        page.css(".auth-btn-wrapper .btn-done").click()

        page.css('.opblock-tag[data-tag="instance"]').click()
        summary = '.opblock-summary-path[data-path="/instance/fetchInstances"]'
        page.wait("the operation", lambda d: page.visible(summary))
        page.css(summary).click()
        page.wait("its description", lambda d: "key may see" in page.text(".opblock-body"))
        page.css(".opblock-body .try-out__btn").click()
        page.css(".opblock-body .execute").click()
        status = ".live-responses-table .response .response-col_status"
        page.wait("the answer", lambda d: page.text(status).strip() != "", timeout=15)
        assert page.text(status).strip().startswith("200")
        assert "docs-demo" in page.text(".live-responses-table")
        browser.execute_script("document.querySelector('.live-responses-table').scrollIntoView()")
        page.shot("try-it-out")
    finally:
        live.call("DELETE", "/instance/delete/docs-demo")
