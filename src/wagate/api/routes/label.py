"""The label router (Evolution's /label/*)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wagate.api.deps import InstanceDep
from wagate.api.routes.message import MessengerDep
from wagate.api.schemas.group import HandleLabel
from wagate.store import messages as db

router = APIRouter(prefix="/label", tags=["label"])


@router.get("/findLabels/{instanceName}")
async def find_labels(reg: InstanceDep, ms: MessengerDep) -> Any:
    """The stored labels; an open instance refreshes them from its account first."""
    if reg.supervisor.external_state == "open" and ms.gw.settings.save_labels:
        labels = await ms.call(reg, lambda x: x.labels())
        rows = [
            db.label_row(reg.id, label.id, label.name, label.color, label.predefined_id)
            for label in labels
        ]
        await ms.store.run(db.upsert_labels(rows))
    return [
        {"color": r.color, "name": r.name, "id": r.label_id, "predefinedId": r.predefined_id}
        for r in await ms.store.labels(reg.id)
    ]


@router.post("/handleLabel/{instanceName}")
async def handle_label(reg: InstanceDep, ms: MessengerDep, body: HandleLabel) -> Any:
    jid = ms.jid(body.number)
    await ms.call(reg, lambda x: x.label_chat(jid, body.labelId, body.action == "add"))
    return {"numberJid": jid, "labelId": body.labelId, body.action: True}
