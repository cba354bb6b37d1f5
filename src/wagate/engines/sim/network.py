"""The simulated WhatsApp network: phones, accounts, connections and injected faults.

One `SimNetwork` per process. It knows which instances have a live connection, lets a
simulated phone scan a QR code (or confirm a pairing code), drops connections with chosen
close codes, and can be taken down as a whole.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wagate.domain.close import CloseCode
from wagate.engines.sim.history import Remembered
from wagate.runtime.clock import Clock

if TYPE_CHECKING:
    from wagate.engines.sim.engine import SimSession
    from wagate.engines.sim.post import SimGroup

DEFAULT_LABELS = (
    ("1", "New customer", 1),
    ("2", "New order", 2),
    ("3", "Pending payment", 3),
    ("4", "Paid", 4),
    ("5", "Order complete", 5),
)
PRIVACY_DEFAULTS = {
    "readreceipts": "all",
    "profile": "all",
    "status": "contacts",
    "online": "all",
    "last": "contacts",
    "groupadd": "all",
}


@dataclass(slots=True)
class Faults:
    """Faults of the founding bug report, injected per instance."""

    logoutFails: bool = False
    """The remote logout request fails."""
    socketAlreadyClosed: bool = False
    """The socket died silently: remote logout and stop raise 'connection closed'."""
    openWithoutIdentity: bool = False
    """Open arrives before the account is known (the identity follows shortly)."""
    persistFailsOnce: bool = False
    """The next state write to the database fails once."""


@dataclass(slots=True)
class SimStats:
    connect_attempts: int = 0
    live_sessions: int = 0
    proxy: str | None = None
    """The proxy URL the current or last session dialed through (None: direct)."""
    presence: str | None = None
    """What the account last announced: available or unavailable (None: nothing yet)."""


@dataclass(slots=True)
class Account:
    number: str
    jid: str
    push_name: str
    linked: set[str] = field(default_factory=set)
    """Device ids of the instances linked to this account."""
    devices: dict[str, tuple[str, str]] = field(default_factory=dict)
    """The phone's linked-devices list: device id -> (name, browser) each device gave."""
    lid: str = ""
    status: str = "Hey there! I am using WhatsApp."
    picture: bytes | None = None
    picture_version: int = 0
    privacy: dict[str, str] = field(default_factory=lambda: dict(PRIVACY_DEFAULTS))
    blocked: set[str] = field(default_factory=set)
    labels: dict[str, tuple[str, int]] = field(
        default_factory=lambda: {i: (n, c) for i, n, c in DEFAULT_LABELS}
    )
    synced_labels: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)
    """Per linked device: the labels as it last synced them (its app state)."""
    inbox: list[Any] = field(default_factory=list)
    """Inbound events waiting for a linked device to connect (bounded)."""
    past: Remembered = field(default_factory=Remembered)
    """What the phone remembers: a newly paired device gets it as a history sync."""

    def unlink(self, device: str) -> None:
        """A linked device is gone (logged out, or unlinked by the server): it neither
        receives nor keeps an app state."""
        self.linked.discard(device)
        self.devices.pop(device, None)
        self.synced_labels.pop(device, None)


class SimNetwork:
    """The whole simulated network. All methods run on the event loop; nothing blocks."""

    def __init__(self, clock: Clock, *, qr_interval: float = 20.0, connect_delay: float = 0.0):
        self.clock = clock
        self.qr_interval = qr_interval
        self.connect_delay = connect_delay
        self.up = True
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, SimSession] = {}
        self.stats: dict[str, SimStats] = {}
        self.faults: dict[str, Faults] = {}
        self.lids: dict[str, Account] = {}
        self.groups: dict[str, SimGroup] = {}
        self.invites: dict[str, str] = {}
        self.sent: OrderedDict[str, tuple[str, str]] = OrderedDict()
        """Message id -> (sender's number, chat JID as the recipients see it), bounded."""
        self.polls: OrderedDict[str, tuple[tuple[str, ...], int]] = OrderedDict()
        """Poll message id -> (its options, how many may be chosen), bounded as `sent`."""
        self.calls: OrderedDict[str, tuple[str, str, str]] = OrderedDict()
        """Call id -> (caller's number, callee's number, offer|rejected), bounded."""
        self.media: OrderedDict[str, bytes] = OrderedDict()
        self.media_bytes = 0
        self.media_cap = 256 * 1024 * 1024

    # --- bookkeeping (keyed by instance name, as the /sim routes are) ---------------------

    def reset_instance(self, name: str) -> None:
        """A new instance with this name starts with clean stats and no faults."""
        self.stats[name] = SimStats()
        self.faults[name] = Faults()

    def stats_of(self, name: str) -> SimStats:
        return self.stats.setdefault(name, SimStats())

    def faults_of(self, name: str) -> Faults:
        return self.faults.setdefault(name, Faults())

    def take_persist_fault(self, name: str) -> bool:
        """True once after persistFailsOnce was set: the caller must fail that write."""
        faults = self.faults.get(name)
        if faults is not None and faults.persistFailsOnce:
            faults.persistFailsOnce = False
            return True
        return False

    def account_for(self, number: str | None) -> Account:
        if not number:
            number = "55119" + "".join(secrets.choice("0123456789") for _ in range(8))
        digits = "".join(ch for ch in number if ch.isdigit())
        account = self.accounts.get(digits)
        if account is None:
            lid = "".join(secrets.choice("0123456789") for _ in range(15))
            account = Account(
                digits, f"{digits}@s.whatsapp.net", f"Sim {digits[-4:]}", lid=f"{lid}@lid"
            )
            self.accounts[digits] = account
            self.lids[account.lid] = account
        return account

    def find(self, jid: str) -> Account | None:
        """The account a phone-number or LID JID addresses, if it exists."""
        user, _, server = jid.partition("@")
        if server == "lid":
            return self.lids.get(jid)
        return self.accounts.get(user.split(":", 1)[0])

    def live_sessions(self, account: Account) -> list[SimSession]:
        """The open sessions of the instances linked to `account`."""
        return [s for s in self.sessions.values() if s.account is account and s.is_open]

    # --- the /sim control operations -----------------------------------------------------

    def set_up(self, up: bool) -> None:
        self.up = up
        if not up:
            for session in list(self.sessions.values()):
                session.drop(CloseCode.TIMED_OUT, "network down")

    def scan(self, name: str, number: str | None) -> str:
        """A phone scans the current QR (or confirms the pairing code). Returns the JID."""
        session = self.sessions.get(name)
        if session is None or not session.awaiting_pairing:
            raise LookupError("no QR code or pairing code is waiting to be scanned")
        account = self.account_for(number or session.pairing_number)
        session.paired(account)
        return account.jid

    def disconnect(self, name: str, code: int) -> bool:
        session = self.sessions.get(name)
        if session is None:
            return False
        session.drop(code, f"server closed the connection ({code})")
        return True
