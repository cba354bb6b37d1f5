"""Selecting and configuring the neonize engine from the environment's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from wagate.config import SettingsError, load_settings
from wagate.engines.neonize import NeonizeEngine, SqliteSessions, available, from_settings


def test_the_engine_is_built_from_settings(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, engine="neonize", neonize_shard_size=4, neonize_proxy="socks5://127.0.0.1:1"
    )
    engine = from_settings(settings)
    assert available() and isinstance(engine, NeonizeEngine)
    assert engine.config.shard_size == 4 and engine.config.proxy == "socks5://127.0.0.1:1"
    assert engine.config.pool_config().host  # the host settings travel with the pool's
    assert isinstance(engine.store, SqliteSessions)
    assert engine.store.root == settings.data_dir / "neonize"


def test_neonize_is_the_default_and_sim_stays_selectable(tmp_path: Path) -> None:
    assert make_settings(tmp_path).engine == "neonize"
    assert make_settings(tmp_path, engine="sim").engine == "sim"


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("WAGATE_ENGINE", "baileys"),
        ("WAGATE_NEONIZE_SHARD_SIZE", "0"),
        ("WAGATE_NEONIZE_RECYCLE_AFTER", "0"),
        ("WAGATE_NEONIZE_CONNECT_DEADLINE_SECONDS", "-1"),
    ],
)
def test_bad_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=env):
        load_settings(api_key="test-global-key-0123456789abcdef")


def test_instance_ids_cannot_escape_the_session_directory(tmp_path: Path) -> None:
    from wagate.domain.errors import BadRequest

    store = SqliteSessions(tmp_path)
    assert store.location("9b1f-42").endswith("9b1f-42/whatsmeow.db")
    for bad in ("../etc", "a/b", "", ".hidden"):
        with pytest.raises(BadRequest):
            store.location(bad)
