"""store/repos.py is the only module that writes the `instances` table: no other module imports
its model or names the table in SQL (the migrations aside), so a status that must commit with
its events reaches the outbox as a write that repos.py built (`Store.status_write`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import wagate

SRC = Path(wagate.__file__).parent
SQL_ON_INSTANCES = re.compile(r"\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+[`\"]?instances\b", re.I)


def _users_of_the_model(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "wagate.store.models"
        and any(alias.name == "Instance" for alias in node.names)
        for node in ast.walk(tree)
    )


def test_only_the_repositories_touch_the_instances_table() -> None:
    users: set[str] = set()
    for path in SRC.rglob("*.py"):
        name = path.relative_to(SRC).as_posix()
        if name.startswith("store/migrations/"):
            continue
        source = path.read_text()
        if _users_of_the_model(ast.parse(source)) or SQL_ON_INSTANCES.search(source):
            users.add(name)
    assert users == {"store/repos.py"}
