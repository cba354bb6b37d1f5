"""The Dockerfile and compose.yaml keep their promises, read as text (no container engine here):
a non-root runtime on a Debian base with /data as its volume, a health check that really
answers, and a compose file whose wagate settings are all names wagate reads, with values it
accepts. bench/container_image.py builds the image and runs it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from tests.live import run_server
from wagate.config import Settings, load_settings
from wagate.store.db import database_url

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
# Variables of the other services' images (postgres, rabbitmq), not wagate's.
OTHER_IMAGES = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "RABBITMQ_DEFAULT_USER",
    "RABBITMQ_DEFAULT_PASS",
}


def wagate_env_names() -> set[str]:
    """Every environment name Settings reads (each field's aliases)."""
    names: set[str] = set()
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias)
    return names


# --- the Dockerfile ---------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, rest = whole.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends in a continuation"
    return out


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each from its FROM on (global ARGs before the first left out)."""
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def only(stage: list[tuple[str, str]], keyword: str) -> str:
    (found,) = [rest for kw, rest in stage if kw == keyword]
    return found


def test_two_stages_on_a_debian_base_and_no_other_image() -> None:
    build, runtime = stages()
    base_default = next(
        rest.split("=", 1)[1]
        for kw, rest in instructions(DOCKERFILE.read_text())
        if kw == "ARG" and rest.startswith("BASE_IMAGE=")
    )
    assert base_default.startswith("debian:")
    assert build[0] == ("FROM", "${BASE_IMAGE} AS build")
    assert runtime[0] == ("FROM", "${BASE_IMAGE}")
    # what the runtime takes from elsewhere comes from the build stage only (no other image,
    # so no registry but the base's)
    copies = [rest for kw, rest in runtime if kw == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"]


def test_the_environment_is_the_locked_one_built_with_uv() -> None:
    build, _ = stages()
    syncs = [rest for kw, rest in build if kw == "RUN" and "uv sync" in rest]
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert all("--extra media" in s for s in syncs)  # ffmpeg for voice notes and stickers
    assert "--no-editable" in syncs[-1]  # wagate itself installed, not linked to /src
    uv = [rest for kw, rest in build if kw == "RUN" and "pip install" in rest]
    assert uv and all('"uv==${UV_VERSION}"' in rest for rest in uv)  # from PyPI, pinned


def test_the_runtime_runs_as_a_user_with_data_as_its_volume() -> None:
    _, runtime = stages()
    # by number (a runtime can tell it is not root), the user and group the image creates
    assert only(runtime, "USER") == "10001:10001"
    runs = " ".join(rest for kw, rest in runtime if kw == "RUN")
    assert "groupadd --gid 10001 wagate" in runs and "useradd --uid 10001 --gid wagate" in runs
    assert only(runtime, "VOLUME") == '["/data"]'
    assert only(runtime, "WORKDIR") == "/data"
    assert only(runtime, "EXPOSE") == "8080"
    # USER comes after every RUN: nothing runs as root once the user is set
    keywords = [kw for kw, _ in runtime]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")


def test_the_runtime_settings_are_names_wagate_reads() -> None:
    build, runtime = stages()
    env = env_of(runtime)
    assert env["SERVER_HOST"] == "0.0.0.0"  # only here: wagate's own default stays loopback
    assert env["WAGATE_DATA_DIR"] == "/data"
    assert "SERVER_HOST" not in env_of(build)
    assert Settings.model_fields["server_host"].default == "127.0.0.1"
    ours = {name for name in env if name.startswith(("SERVER_", "WAGATE_", "DATABASE_"))}
    assert ours <= wagate_env_names()
    assert {"PATH", "PYTHONUNBUFFERED"} | ours == set(env)


def test_tini_forwards_signals_to_wagate() -> None:
    _, runtime = stages()
    assert only(runtime, "ENTRYPOINT") == '["tini", "-e", "143", "--", "wagate"]'
    assert only(runtime, "CMD") == '["serve"]'
    assert only(runtime, "STOPSIGNAL") == "SIGTERM"
    apt = next(rest for kw, rest in runtime if kw == "RUN" and "apt-get install" in rest)
    assert "tini" in apt.split("apt-get install")[1].split("&&")[0]


def healthcheck_argv() -> list[str]:
    _, runtime = stages()
    rest = only(runtime, "HEALTHCHECK")
    options, _, command = rest.partition(" CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv: list[str] = yaml.safe_load(command)  # exec form: a JSON list
    assert argv[0] == "python3" and "/health" in argv[-1]
    return argv


def probe(argv: list[str], port: int) -> int:
    command = [sys.executable, *argv[1:]]  # the image's python3 is Debian's; any 3.11 does
    env = {"SERVER_PORT": str(port)}
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Any]:
    yield from run_server(tmp_path)


def test_the_healthcheck_passes_while_wagate_answers_and_fails_once_it_stops(live: Any) -> None:
    argv = healthcheck_argv()
    assert probe(argv, live.port) == 0
    live.process.terminate()
    live.process.wait(15)
    assert probe(argv, live.port) != 0


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.skip("hadolint is not installed (the dev group brings it)")
    out = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # everything is left out, then what the build copies is let in
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    build, _ = stages()
    for kw, rest in build:
        if kw == "COPY" and not rest.startswith("--from"):
            *sources, _ = rest.split()
            assert set(sources) <= kept
            assert all((ROOT / source).exists() for source in sources)


# --- compose.yaml -----------------------------------------------------------------------


def interpolated(value: Any) -> str:
    """Compose's ${NAME:-default} with nothing set: the default (${NAME} alone: empty)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", text)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def wagate_environment() -> dict[str, str]:
    env = compose()["services"]["wagate"]["environment"]
    assert isinstance(env, dict)
    return {name: interpolated(value) for name, value in env.items()}


def test_compose_runs_wagate_on_postgresql_with_its_volume() -> None:
    services = compose()["services"]
    assert set(services) == {"wagate", "postgres"}
    wagate = services["wagate"]
    assert wagate["build"] == "."
    assert "wagate_data:/data" in wagate["volumes"]
    assert wagate["ports"] == ["8080:8080"]
    assert wagate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]
    assert set(compose()["volumes"]) == {"wagate_data", "postgres_data"}
    env = wagate_environment()
    assert env["DATABASE_PROVIDER"] == "postgresql"
    url = database_url(env["DATABASE_PROVIDER"], env["DATABASE_CONNECTION_URI"], Path("/data"))
    assert url == "postgresql+asyncpg://wagate:wagate@postgres:5432/wagate"
    postgres = services["postgres"]["environment"]
    assert env["DATABASE_CONNECTION_URI"].endswith(
        f"{interpolated(postgres['POSTGRES_USER'])}:{interpolated(postgres['POSTGRES_PASSWORD'])}"
        f"@postgres:5432/{interpolated(postgres['POSTGRES_DB'])}"
    )


def test_compose_names_only_settings_wagate_reads() -> None:
    assert set(wagate_environment()) <= wagate_env_names()
    # the commented-out ones too (RabbitMQ, NATS …): uncommenting them must not add a name
    # that wagate would ignore
    commented = re.findall(r"^\s*#\s+([A-Z][A-Z0-9_]+):", COMPOSE.read_text(), re.M)
    assert commented
    assert set(commented) - OTHER_IMAGES <= wagate_env_names()


def test_compose_values_are_a_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in wagate_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in wagate_environment().items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.database_provider == "postgresql"
    assert settings.engine == "neonize"
    assert settings.api_key is None  # left empty: generated and kept in /data
    assert settings.public_url == "http://localhost:8080"


def uncommented(text: str) -> str:
    """compose.yaml with its optional parts switched on: commented-out settings
    (`# NAME: value`) and services (`# name:` and the lines nested under it)."""
    setting = re.compile(r"^(\s*)# ([A-Z][A-Z0-9_]+: .*)$")
    service = re.compile(r"^(\s*)# ([a-z_]+:)$")
    out, indent = [], None
    for line in text.splitlines():
        if match := service.match(line):
            indent = match.group(1)
            out.append(indent + match.group(2))
        elif indent is not None and line.startswith(indent + "#   "):
            out.append(indent + line[len(indent) + 2 :])
        else:
            indent = None
            match = setting.match(line)
            out.append(match.group(1) + match.group(2) if match else line)
    return "\n".join(out) + "\n"


def test_compose_with_its_optional_parts_on_is_still_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    full = yaml.safe_load(uncommented(COMPOSE.read_text()))
    assert set(full["services"]) == {"wagate", "postgres", "redis", "rabbitmq", "nats"}
    env = {k: interpolated(v) for k, v in full["services"]["wagate"]["environment"].items()}
    assert set(env) <= wagate_env_names()
    for name in wagate_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.rabbitmq_enabled and settings.nats_enabled and settings.webhook_global_enabled
    rabbit = full["services"]["rabbitmq"]["environment"]
    assert settings.rabbitmq_uri == (
        f"amqp://{rabbit['RABBITMQ_DEFAULT_USER']}:{rabbit['RABBITMQ_DEFAULT_PASS']}@rabbitmq:5672"
    )
    assert settings.nats_uri == "nats://nats:4222"
