"""The instance-scoped and admin routes of the Evolution contract wagate serves, with a valid
body each, for tests that walk every route."""

from __future__ import annotations

from typing import Any

SETTINGS = {
    "rejectCall": True,
    "msgCall": "busy",
    "groupsIgnore": False,
    "alwaysOnline": False,
    "readMessages": True,
    "readStatus": False,
    "syncFullHistory": False,
}

# (method, path with {name}, a valid body or None)
INSTANCE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/instance/connect/{name}", None),
    ("GET", "/instance/connectionState/{name}", None),
    ("POST", "/instance/restart/{name}", None),
    ("POST", "/instance/setPresence/{name}", {"presence": "available"}),
    ("DELETE", "/instance/logout/{name}", None),
    ("DELETE", "/instance/delete/{name}", None),
    ("POST", "/settings/set/{name}", SETTINGS),
    ("GET", "/settings/find/{name}", None),
]

# Routes only the global key may use ({name} is an existing instance where there is one).
ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/instance/create", {"instanceName": "by-token", "integration": "WHATSAPP-BAILEYS"}),
    ("POST", "/verify-creds", None),
    ("POST", "/sim/{name}/scan", {"number": "5511999990009"}),
    ("POST", "/sim/{name}/disconnect", {"code": 408}),
    ("POST", "/sim/network", {"up": True}),
    ("POST", "/sim/{name}/faults", {"logoutFails": False}),
    ("GET", "/sim/{name}/stats", None),
]

BODY_ROUTES = [(m, p) for m, p, b in INSTANCE_ROUTES + ADMIN_ROUTES if b is not None]


def route_id(route: tuple[str, str, Any] | tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"
