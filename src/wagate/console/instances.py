"""`wagate instances …`: list, create, connect (QR in the terminal, wait until open), state,
logout, delete, against a running server."""

from __future__ import annotations

import itertools
import queue
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import segno

from wagate.console.client import ClientError, EventFeed, Server, say
from wagate.core.status import Action

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ACTIONS = {
    "connect": "run `wagate instances connect {name}`",
    "scan": "scan the QR code with the phone (WhatsApp > Linked devices > Link a device)",
    "wait": "wait: wagate is working on it",
    "check_phone": "check the phone (the account may be banned or used elsewhere), then connect",
    "upgrade": "upgrade wagate (WhatsApp rejected this client version), then connect",
    Action.CHECK_NETWORK: (
        "check that this machine reaches web.whatsapp.com (DNS, firewall, the instance's "
        "proxy); `wagate doctor` tests it. To try wagate without WhatsApp, run the server "
        "with WAGATE_ENGINE=sim"
    ),
    "none": "nothing",
}


def _action(lifecycle: dict[str, Any] | None, name: str) -> str:
    action = (lifecycle or {}).get("action") or "none"
    if action == "scan" and (lifecycle or {}).get("state") == "logged_out":
        action = "connect"
    return ACTIONS.get(action, action).format(name=name)


def list_instances(server: Server, out: TextIO) -> int:
    rows = server.call("GET", "/instance/fetchInstances")
    if not rows:
        say("No instances. Create one with `wagate instances create NAME`.", file=out)
        return 0
    table = [("NAME", "STATE", "LIFECYCLE", "REASON", "ACCOUNT", "WHAT TO DO")]
    for row in sorted(rows, key=lambda r: r["name"]):
        lc = row.get("lifecycle") or {}
        table.append(
            (
                row["name"],
                row.get("connectionStatus") or "close",
                str(lc.get("state", "")),
                str(lc.get("reason", row.get("disconnectionReasonCode") or "")),
                (row.get("ownerJid") or "-").split("@")[0],
                _action(lc, row["name"]),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    for r in table:
        say(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1], file=out
        )
    return 0


def create_instance(server: Server, name: str, number: str | None, out: TextIO) -> int:
    body: dict[str, Any] = {"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
    if number:
        body["number"] = number
    res = server.call("POST", "/instance/create", json=body)
    say(f"Created {name} ({res['instance']['instanceId']}).", file=out)
    say(f"Its token (shown only now): {res['hash']}", file=out)
    say(f"Next: wagate instances connect {name}", file=out)
    return 0


def show_state(server: Server, name: str, out: TextIO) -> int:
    res = server.call("GET", server.instance_path("connectionState", name))
    lc = res.get("lifecycle") or {}
    say(
        f"{name}: {res['instance']['state']} ({lc.get('state')}, reason {lc.get('reason')})",
        file=out,
    )
    if lc.get("message"):
        say(f"  {lc['message']}", file=out)
    say(f"  What to do: {_action(lc, name)}", file=out)
    return 0


def logout_instance(server: Server, name: str, out: TextIO) -> int:
    res = server.call("DELETE", server.instance_path("logout", name))
    say(f"{name}: {res['response']['message']}", file=out)
    return 0


def delete_instance(server: Server, name: str, out: TextIO) -> int:
    server.call("DELETE", server.instance_path("delete", name))
    say(f"{name}: deleted", file=out)
    return 0


# --- connect and wait ---------------------------------------------------------------------


def draw_code(name: str, body: dict[str, Any], out: TextIO, *, clear: bool) -> None:
    """Draw the QR (and the pairing code) in the terminal."""
    if clear:
        out.write("\x1b[2J\x1b[H")
    if body.get("code"):
        count = body.get("count")
        say(
            f"Scan this QR code for {name}" + (f" (code {count})" if count else "") + ":", file=out
        )
        segno.make(body["code"], error="l").terminal(out=out, compact=True, border=2)
        say("WhatsApp > Linked devices > Link a device. The code refreshes by itself.", file=out)
    if body.get("pairingCode"):
        say(f"Pairing code for {name}: {body['pairingCode']}", file=out)
        say("On the phone: Linked devices > Link with phone number instead.", file=out)
    out.flush()


@dataclass(slots=True)
class Waiting:
    """What the wait loop shows on its status line."""

    name: str
    interactive: bool
    out: TextIO
    started: float = field(default_factory=time.monotonic)
    message: str = "Waiting for a phone to scan the QR code"
    codes: int = 1
    shown: str | None = None
    """The QR code or pairing code on screen (the stream repeats the one connect returned)."""
    _spin: itertools.cycle[str] = field(default_factory=lambda: itertools.cycle(SPINNER))
    _drawn: bool = False

    def tick(self) -> None:
        if not self.interactive:
            return
        elapsed = int(time.monotonic() - self.started)
        self.out.write(
            f"\r\x1b[K{next(self._spin)} {self.message}… {elapsed}s (Ctrl-C stops waiting)"
        )
        self.out.flush()
        self._drawn = True

    def say(self, text: str) -> None:
        if self._drawn:
            self.out.write("\r\x1b[K")
            self._drawn = False
        say(text, file=self.out)
        self.out.flush()

    def update(self, message: str) -> None:
        if message != self.message:
            self.message = message
            if not self.interactive:
                self.say(f"… {message}")


def connect_instance(
    server: Server,
    name: str,
    number: str | None,
    *,
    wait: bool,
    timeout: float,
    out: TextIO,
    interactive: bool | None = None,
) -> int:
    interactive = out.isatty() if interactive is None else interactive
    feed: EventFeed | None = None
    if wait:
        server.call("GET", server.instance_path("connectionState", name))  # 404/401 first
        feed = server.events(name)
        if not feed.start():
            feed.close()
            feed = None
    try:
        try:
            body = server.call(
                "GET",
                server.instance_path("connect", name),
                params={"number": number} if number else None,
            )
        except ClientError as exc:
            if exc.status != 503:  # 503: WhatsApp cannot be reached from the server
                raise
            say(f"{name} cannot connect: {exc}", file=out)
            say(f"What to do: {ACTIONS[Action.CHECK_NETWORK]}", file=out)
            return 1
        if (body.get("instance") or {}).get("state") == "open":
            say(f"{name} is already connected.", file=out)
            return 0
        lc = body.get("lifecycle") or {}
        if lc and not (body.get("code") or body.get("pairingCode")) and _stopped(lc):
            say(f"{name} did not start: {lc.get('message')} ({lc.get('reason')})", file=out)
            say(f"What to do: {_action(lc, name)}", file=out)
            return 1
        draw_code(name, body, out, clear=False)
        if not wait:
            return 0
        waiting = Waiting(
            name,
            interactive,
            out,
            codes=int(body.get("count") or 1),
            shown=body.get("code") or body.get("pairingCode"),
        )
        return _wait_open(server, name, feed, timeout, waiting)
    except KeyboardInterrupt:
        say("\nStopped waiting; the instance keeps its QR code until it expires.", file=out)
        return 130
    finally:
        if feed is not None:
            feed.close()


def _stopped(lc: dict[str, Any]) -> bool:
    """Whether a connect attempt is over (closed, or WhatsApp unreachable), not still going."""
    return lc.get("action") == Action.CHECK_NETWORK or lc.get("state") in (
        "idle",
        "failed",
        "logged_out",
    )


def _wait_open(
    server: Server, name: str, feed: EventFeed | None, timeout: float, waiting: Waiting
) -> int:
    deadline = time.monotonic() + timeout
    next_poll = 0.0
    while (now := time.monotonic()) < deadline:
        waiting.tick()
        env: dict[str, Any] | Exception | None = None
        if feed is not None:
            try:
                env = feed.items.get(timeout=0.1)
            except queue.Empty:
                env = None
            if isinstance(env, Exception):
                waiting.say(f"(live updates stopped: {env}; polling instead)")
                feed, env = None, None
        else:
            time.sleep(0.1)
            if now >= next_poll:
                next_poll = now + 1.0
                env = _poll(server, name)
        if env is None or isinstance(env, Exception):
            continue
        done = _on_event(name, env, waiting)
        if done is not None:
            return done
    state = server.call("GET", server.instance_path("connectionState", name))
    waiting.say(
        f"Timed out after {int(timeout)}s; {name} is still {state['instance']['state']}. "
        f"Run `wagate instances connect {name}` again to keep waiting."
    )
    return 1


def _poll(server: Server, name: str) -> dict[str, Any]:
    """Without a live stream: the state, shaped like a connection.update."""
    res = server.call("GET", server.instance_path("connectionState", name))
    lc = res.get("lifecycle") or {}
    return {
        "event": "connection.update",
        "polled": True,
        "data": {
            "state": res["instance"]["state"],
            "statusReason": lc.get("reason"),
            "lifecycle": lc,
        },
    }


def _on_event(name: str, env: dict[str, Any], waiting: Waiting) -> int | None:
    """React to one event; an exit code when the wait is over."""
    data = env.get("data") or {}
    if env.get("event") == "qrcode.updated":
        qr = data.get("qrcode")
        shown = (qr or {}).get("code") or (qr or {}).get("pairingCode")
        if qr and shown != waiting.shown:
            waiting.shown = shown
            waiting.codes += 1
            waiting.say("")
            draw_code(name, {**qr, "count": waiting.codes}, waiting.out, clear=waiting.interactive)
        if qr:
            code = "QR code" if qr.get("code") else "pairing code"
            waiting.update(f"Waiting for a phone to scan the {code}")
        elif data.get("message"):
            waiting.say(f"{name}: {data['message']}")
        return None
    if env.get("event") != "connection.update":
        return None
    lc = data.get("lifecycle") or {}
    state = data.get("state")
    if state == "open":
        who = (data.get("wuid") or "").split("@")[0]
        waiting.say(f"✓ {name} is connected" + (f" as {who}." if who else "."))
        return 0
    if state in ("close", "refused") or lc.get("action") == Action.CHECK_NETWORK:
        if env.get("polled") and lc.get("state") in ("idle",) and lc.get("reason") == 200:
            return None  # nothing started yet
        waiting.say(f"✗ {name} is {state}: {lc.get('message') or data.get('statusReason')}")
        waiting.say(f"  What to do: {_action(lc, name)}")
        return 1
    if lc.get("message"):
        waiting.update(str(lc["message"]).rstrip("."))
    return None


def server_from(url: str, apikey: str | None) -> Server:
    if not apikey:
        raise ClientError(
            "no API key: pass --apikey, set WAGATE_APIKEY or AUTHENTICATION_API_KEY, "
            "or run where the server's data/api-key is"
        )
    return Server(url.rstrip("/"), apikey)


def fail(exc: ClientError) -> int:
    say(f"wagate: {exc}", file=sys.stderr)
    return 1
