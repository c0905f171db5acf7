"""Settings: environment, TOML file, generated development secret, production guard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from breeze.settings import Settings


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("BREEZE_"):
            monkeypatch.delenv(key)


def test_environment_variables_and_nested_groups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("BREEZE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BREEZE_SMTP__HOST", "mail.example.com")
    monkeypatch.setenv("BREEZE_AUTH__PASSWORD_MIN_LENGTH", "14")
    s = Settings()
    assert s.smtp.host == "mail.example.com"
    assert s.auth.password_min_length == 14
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'breeze.db').resolve()}"


def test_toml_file_in_data_dir_is_read_and_env_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch)
    (tmp_path / "breeze.toml").write_text('log_level = "debug"\n[server]\nport = 9100\n')
    monkeypatch.setenv("BREEZE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BREEZE_LOG_LEVEL", "warning")
    s = Settings()
    assert s.server.port == 9100
    assert s.log_level == "warning"


def test_development_secret_is_generated_once_and_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("BREEZE_DATA_DIR", str(tmp_path))
    first = Settings().secret()
    assert len(first) >= 32
    assert Settings().secret() == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("secret", [None, "changeme", "short-but-set"])
def test_production_rejects_default_or_weak_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str | None
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("BREEZE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BREEZE_ENV", "production")
    if secret is not None:
        monkeypatch.setenv("BREEZE_SECRET_KEY", secret)
    assert any("BREEZE_SECRET_KEY" in p for p in Settings().production_problems())


def test_production_accepts_a_strong_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("BREEZE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BREEZE_SECRET_KEY", "k" * 24 + "Q9x!" * 4)
    assert Settings().production_problems() == []


def test_server_refuses_to_start_in_production_on_default_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREEZE_")}
    env.update(BREEZE_ENV="production", BREEZE_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "breeze.cli", "server", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to start in production" in done.stderr
    assert "BREEZE_SECRET_KEY" in done.stderr
