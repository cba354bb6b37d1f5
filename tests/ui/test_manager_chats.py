"""The Manager's chats in real headless Chromium: a message sent from another instance appears
in the chat list and the conversation without a reload, and one sent back from the send box
arrives; the layout holds at 1400 px and at 420 px (screenshots in artifacts/manager/)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import segno

from tests.conftest import API_KEY
from tests.live import LiveServer

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By

from tests.ui.browser import Page, chrome

ALICE, BOB = "5511900000101", "5511900000202"


def _open_instance(live: LiveServer, name: str, number: str) -> None:
    live.call(
        "POST", "/instance/create", json={"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
    )
    live.call("GET", f"/instance/connect/{name}")
    assert live.call("POST", f"/sim/{name}/scan", json={"number": number})["state"] == "open"


def _rect(page: Page, selector: str) -> dict[str, Any]:
    got: dict[str, Any] = page.d.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};",
        selector,
    )
    return got


def _sign_in(page: Page, live: LiveServer) -> None:
    page.d.get(f"{live.url}/manager")
    page.wait("the sign-in form", lambda d: page.visible("#apikey"))
    page.css("#apikey").send_keys(API_KEY)
    page.css("#login-form button[type=submit]").click()
    page.wait("the live stream", lambda d: page.text("#live") == "live")


@pytest.mark.timeout(900)
def test_chats_show_a_message_from_another_instance_and_send_one_back(
    chromium: Path, live: LiveServer, tmp_path: Path
) -> None:
    _open_instance(live, "alice", ALICE)
    _open_instance(live, "bob", BOB)
    hook = {"webhook": {"enabled": True, "url": "http://127.0.0.1:9/hook", "events": []}}
    live.call("POST", "/webhook/set/alice", json=hook)  # deliveries fill their table (failing)
    try:
        with chrome(chromium, 1400, 1000) as driver:
            page = Page(driver, live, "chats-1400")
            _sign_in(page, live)
            page.wait(
                "both rows open",
                lambda d: page.row_state("alice") == page.row_state("bob") == "open",
            )
            assert page.text('tr[data-instance="alice"] .reason').strip().startswith("Connected")
            assert "200" not in page.text('tr[data-instance="alice"] .reason')
            driver.execute_script("window.__noReload = 7")
            page.press("Open alice")
            page.wait("the chats panel", lambda d: "No chats yet" in page.text("#chats-note"))
            page.shot("no-chats")

            # Bob writes to Alice through the API; Alice's Manager shows it by itself.
            live.call(
                "POST",
                "/message/sendText/bob",
                json={"number": ALICE, "text": "Hi Alice, from Bob"},
            )
            chat = f'#chat-list li[data-jid="{BOB}@s.whatsapp.net"]'
            page.wait("Bob's chat", lambda d: "Hi Alice, from Bob" in page.text(chat))
            assert BOB in page.text(chat)
            page.css(f"{chat} button").click()
            page.wait(
                "the conversation",
                lambda d: "Hi Alice, from Bob" in page.text("#messages li.theirs"),
            )
            assert page.css("#send-number").get_attribute("value") == BOB
            page.shot("message-arrived")

            # Alice answers from the send box; the reply shows as hers, and Bob has it.
            page.css("#send-text").send_keys("Hello Bob, from the Manager")
            page.css("#send-form button[type=submit]").click()
            page.wait(
                "the reply",
                lambda d: "Hello Bob, from the Manager" in page.text("#messages li.mine"),
            )
            page.wait("the send note", lambda d: page.text("#send-note") == "Sent.")
            got = live.call(
                "POST",
                "/chat/findMessages/bob",
                json={"where": {"key": {"remoteJid": f"{ALICE}@s.whatsapp.net"}}},
            )
            texts = [r["message"].get("conversation") for r in got["messages"]["records"]]
            assert "Hello Bob, from the Manager" in texts
            assert driver.execute_script("return window.__noReload") == 7

            # A file goes as sendMedia's multipart form; Bob gets an image with its caption.
            picture = tmp_path / "logo.png"
            segno.make("wagate").save(str(picture), scale=4)
            page.css("#send-text").send_keys("our logo")
            page.css("#send-file").send_keys(str(picture))
            page.css("#send-form button[type=submit]").click()
            page.wait(
                "the picture",
                lambda d: any(
                    "our logo" in li.text
                    for li in d.find_elements(By.CSS_SELECTOR, "#messages li.mine")
                ),
            )
            assert page.css("#send-file").get_attribute("value") == ""
            got = live.call(
                "POST",
                "/chat/findMessages/bob",
                json={"where": {"key": {"remoteJid": f"{ALICE}@s.whatsapp.net"}}},
            )
            kinds = {r["messageType"]: r["message"] for r in got["messages"]["records"]}
            assert kinds["imageMessage"]["imageMessage"]["caption"] == "our logo"

            # The proxy and transport forms save through their routes and say what happened.
            # A proxy that does not answer is refused; one that listens is saved.
            page.css("#px-enabled").click()
            page.css("#px-host").send_keys("127.0.0.1")
            with socket.socket() as closed:
                closed.bind(("127.0.0.1", 0))
                dead = closed.getsockname()[1]
            page.css("#px-port").send_keys(str(dead))
            page.css("#proxy-form button[type=submit]").click()
            page.wait("the proxy refused", lambda d: "Not saved" in page.text("#proxy-note"))
            assert live.call("GET", "/proxy/find/alice") is None  # nothing stored
            with socket.socket() as listening:
                listening.bind(("127.0.0.1", 0))
                listening.listen()
                port = str(listening.getsockname()[1])
                page.css("#px-port").clear()
                page.css("#px-port").send_keys(port)
                page.css("#proxy-form button[type=submit]").click()
                page.wait("the proxy saved", lambda d: "Proxy saved" in page.text("#proxy-note"))
            proxy = live.call("GET", "/proxy/find/alice")
            assert (proxy["enabled"], proxy["host"], proxy["port"]) == (True, "127.0.0.1", port)
            page.css('#transports-form input[name="websocket"]').click()
            page.css("#transports-form button[type=submit]").click()
            page.wait(
                "the transport's answer",
                lambda d: (
                    "websocket not saved: websocket is off on this server"
                    in page.text("#transports-note")
                ),
            )

            # The event tail: a summary that opens to the whole envelope, pretty-printed.
            first = driver.find_elements(By.CSS_SELECTOR, "#events details")[0]
            first.find_element(By.TAG_NAME, "summary").click()
            assert '\n  "event": ' in first.find_element(By.TAG_NAME, "pre").text.replace("\r", "")

            # Deliveries and settings no longer overlap, and nothing leaves its panel.
            driver.execute_script("document.getElementById('settings-form').scrollIntoView()")
            page.wait("delivery rows", lambda d: page.visible("#deliveries tbody tr"))
            deliveries, settings = _rect(page, "#deliveries"), _rect(page, "#settings-form")
            apart = (
                deliveries["bottom"] <= settings["top"] or deliveries["top"] >= settings["bottom"]
            )
            beside = (
                deliveries["right"] <= settings["left"] or deliveries["left"] >= settings["right"]
            )
            assert apart or beside, (deliveries, settings)
            panel = driver.execute_script(
                "return document.getElementById('deliveries').closest('.panel')"
                ".getBoundingClientRect().right"
            )
            scroller = driver.execute_script(
                "return document.getElementById('deliveries').parentElement"
                ".getBoundingClientRect().right"
            )
            assert scroller <= panel <= driver.execute_script("return window.innerWidth")
            page.shot("panels")

        with chrome(chromium, 420, 900) as driver:
            page = Page(driver, live, "chats-420")
            _sign_in(page, live)
            page.wait("the rows", lambda d: page.row_state("alice") == "open")
            width = driver.execute_script("return document.documentElement.clientWidth")
            assert driver.execute_script("return document.documentElement.scrollWidth") <= width
            for label in ("Connect alice", "Delete alice", "Delete bob"):
                right = _rect(page, f'button[aria-label="{label}"]')["right"]
                assert right <= width, (label, right, width)
            page.shot("instances")
            page.press("Open alice")
            page.wait("the chats", lambda d: BOB in page.text("#chat-list"))
            page.css(f'#chat-list li[data-jid="{BOB}@s.whatsapp.net"] button').click()
            page.wait("the conversation", lambda d: "Hello Bob" in page.text("#messages"))
            driver.execute_script("document.getElementById('chats-panel').scrollIntoView()")
            assert driver.execute_script("return document.documentElement.scrollWidth") <= width
            assert _rect(page, "#send-form button[type=submit]")["right"] <= width
            page.shot("chat")
    finally:
        for name in ("alice", "bob"):
            live.call("DELETE", f"/instance/delete/{name}")
