"""The lifecycle block the API answers (`lifecycle` in connect, connectionState and
fetchInstances): core/status.py's view of the supervisor's instance, with its history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wagate.core import status

if TYPE_CHECKING:
    from wagate.core.supervisor import Supervisor


def lifecycle_view(sup: Supervisor, *, history: bool = True) -> dict[str, Any]:
    transitions = sup.stats.transitions if history else None
    return status.lifecycle_view(sup.inst, transitions)
