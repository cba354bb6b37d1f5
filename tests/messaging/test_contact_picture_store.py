"""A contact's stored picture on every database: a name change keeps it, a removal clears it."""

from __future__ import annotations

from tests.conftest import Harness
from wagate.store.messages import REMOVED_PICTURE, contact_row, upsert_contacts

JID = "5511900000001@s.whatsapp.net"
URL = "https://pps.whatsapp.net/v/a.jpg"


async def test_a_removed_picture_clears_the_stored_url(harness: Harness) -> None:
    h = harness
    iid = (await h.create("pic"))["instance"]["instanceId"]
    other = (await h.create("pic2"))["instance"]["instanceId"]
    store = h.app.state.messenger.store

    async def picture(name: str) -> object:
        r = await h.client.post(f"/chat/findContacts/{name}", json={"where": {"remoteJid": JID}})
        (row,) = r.json()
        return row["pushName"], row["profilePicUrl"]

    await store.run(upsert_contacts([contact_row(iid, JID, "Ana", URL)]))
    await store.run(upsert_contacts([contact_row(other, JID, "Ana", URL)]))
    await store.run(upsert_contacts([contact_row(iid, JID, "Ana B", None)]))
    assert await picture("pic") == ("Ana B", URL)  # a name change keeps the picture
    await store.run(upsert_contacts([contact_row(iid, JID, None, REMOVED_PICTURE)]))
    assert await picture("pic") == ("Ana B", None)
    assert await picture("pic2") == ("Ana", URL)  # another instance's copy is untouched
    # a contact first heard of through its removal is stored with no picture
    fresh = "5511900000002@s.whatsapp.net"
    await store.run(upsert_contacts([contact_row(iid, fresh, None, REMOVED_PICTURE)]))
    r = await h.client.post("/chat/findContacts/pic", json={"where": {"remoteJid": fresh}})
    assert r.json()[0]["profilePicUrl"] is None
