"""Make a whatsmeow SQLite store that holds a paired device, with no phone and no network.

Run in a subprocess (it loads the Go library): `python seed_store.py <db path> <number>`.
whatsmeow creates its schema when asked for the devices of a new file; one device row with
well-formed (random) keys then makes the store look paired (shared/reference/neonize.md §9.3).
The keys are garbage, so this device can never log in: that is the point offline.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import sys

logging.basicConfig(level=logging.ERROR)


def seed(db: str, number: str, device: int = 7) -> str:
    from neonize.aioze.client import ClientFactory  # type: ignore[import-untyped]

    ClientFactory.get_all_devices_from_db(db)
    jid = f"{number}:{device}@s.whatsapp.net"
    r = secrets.token_bytes
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key,"
            " signed_pre_key, signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details,"
            " adv_account_sig, adv_account_sig_key, adv_device_sig, push_name)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                jid,
                1234,
                r(32),
                r(32),
                r(32),
                1,
                r(64),
                r(32),
                b"\x01",
                r(64),
                r(32),
                r(64),
                "Seed",
            ),
        )
    con.close()
    return jid


if __name__ == "__main__":
    print(seed(sys.argv[1], sys.argv[2]))  # noqa: T201
