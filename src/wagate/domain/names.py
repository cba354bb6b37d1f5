"""The rule a new instance name meets. Names already stored keep working whatever they are:
only creation checks it.

One name, one spelling: Unicode normal form C (so an NFD spelling cannot make a second
instance that looks the same), no whitespace at either end (`a`, ` a` and `a ` are not three
instances), not `.` or `..` (path segments), and no character that is invisible or breaks a
line or a path: controls, format characters (zero-width space, bidi overrides …), separators
other than the plain space inside the name (no-break space, U+2028 …), "/" and "\\"."""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 100
_REFUSED_CATEGORIES = {
    "Cc": "control",
    "Cf": "format",
    "Zs": "separator",
    "Zl": "separator",
    "Zp": "separator",
}


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a new instance's name (a sentence naming the rule), or None."""
    field = '"instanceName"'
    if name != name.strip():
        return f"The {field} may not begin or end with whitespace"
    if name in (".", ".."):
        return f'The {field} may not be "." or ".."'
    if len(name) > MAX_LENGTH:
        return f"The {field} is at most {MAX_LENGTH} characters"
    for char in name:
        if char in "/\\":
            return f'The {field} may not contain "/" or "\\"'
        kind = _REFUSED_CATEGORIES.get(unicodedata.category(char))
        if kind is not None and char != " ":
            return (
                f"The {field} may not contain {kind} characters "
                f"(U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"
            )
    if not unicodedata.is_normalized("NFC", name):
        return f"The {field} must be in Unicode normal form C (NFC)"
    return None
