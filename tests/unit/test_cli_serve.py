"""`wagate serve` starts without the command-line toolkit: the plain forms are parsed by
cli.py, anything else (help, typos, bad values) is left to typer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wagate.cli import serve_options


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve"], (None, None)),
        (["serve", "--port", "8081"], (None, 8081)),
        (["serve", "--port=8081", "--host", "0.0.0.0"], ("0.0.0.0", 8081)),
        (["serve", "--host=127.0.0.2"], ("127.0.0.2", None)),
        (["serve", "--host="], (None, None)),
    ],
)
def test_plain_serve_is_parsed_here(
    argv: list[str], expected: tuple[str | None, int | None]
) -> None:
    assert serve_options(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["migrate"],
        ["serve", "--help"],
        ["serve", "--port"],
        ["serve", "--port", "abc"],
        ["serve", "--port", "-1"],
        ["serve", "--port", "٨٠"],  # digits, but not ASCII ones
        ["serve", "--port", "1", "--port", "2"],
        ["serve", "--host"],
        ["serve", "--host", "--port"],
        ["serve", "extra"],
        ["serve", "-h"],
    ],
)
def test_everything_else_goes_to_typer(argv: list[str]) -> None:
    assert serve_options(argv) is None


def test_the_server_loads_without_typer_and_rich() -> None:
    probe = (
        "import sys\n"
        "from wagate import cli\n"
        "cli._structlog_without_rich()\n"
        "import uvicorn, wagate.app\n"
        "import structlog.dev\n"
        "loaded = [m for m in ('typer', 'rich', 'pygments') if m in sys.modules]\n"
        "assert loaded == [], loaded\n"
        "import rich\n"  # and rich remains importable for whoever wants it
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
