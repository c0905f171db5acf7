"""The agent's config file: where it lives, mode 0600, URL policy, machine id."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from breeze_agent.config import (
    ENV_CONFIG,
    ENV_HEARTBEAT_INTERVAL,
    ENV_INVENTORY_INTERVAL,
    ROOT_CONFIG,
    AgentFileConfig,
    ConfigError,
    check_server_url,
    default_config_path,
    effective_intervals,
    is_loopback_host,
    load_config,
    machine_id,
    save_config,
    state_path,
)
from breeze_protocol import AgentConfig
from tests.agent.unprivileged import unprivileged_cwd, unprivileged_python


def sample(**changes: object) -> AgentFileConfig:
    data: dict[str, object] = {
        "server_url": "http://127.0.0.1:9",
        "agent_id": "agt_0123456789",
        "device_id": "5f0c7a8e-0000-4000-8000-000000000001",
        "auth_token": "brz_agt_secret-token-value",
        "heartbeat_interval_seconds": 60,
        "inventory_interval_seconds": 3600,
    }
    data.update(changes)
    return AgentFileConfig.model_validate(data)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "breeze_agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.45.6.7:8000/", "http://127.45.6.7:8000"),
        ("http://localhost:8000/api/v1", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://rmm.example.com", "https://rmm.example.com"),
        ("https://rmm.example.com/breeze/", "https://rmm.example.com/breeze"),
    ],
)
def test_allowed_server_urls(url: str, expected: str) -> None:
    assert check_server_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://rmm.example.com", "http://10.0.0.1:8000", "http://192.0.2.7", "http://[fe80::1]"],
)
def test_plain_http_to_a_remote_host_is_refused_unless_insecure(url: str) -> None:
    with pytest.raises(ConfigError, match="refusing plain http"):
        check_server_url(url)
    assert check_server_url(url, insecure=True).startswith("http://")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "127.0.0.1:8000", "http://", ""])
def test_malformed_server_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="must be http"):
        check_server_url(url, insecure=True)


def test_loopback_names() -> None:
    assert all(map(is_loopback_host, ["localhost", "LOCALHOST.", "127.0.0.1", "127.9.9.9", "::1"]))
    assert not any(map(is_loopback_host, ["example.com", "128.0.0.1", "::2", "localhost.evil"]))


def test_config_is_written_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "agent.json"
    old = os.umask(0)  # even with a permissive umask
    try:
        save_config(path, sample())
        save_config(path, sample(heartbeat_interval_seconds=30))  # overwrite keeps the mode
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert load_config(path).heartbeat_interval_seconds == 30
    assert sorted(p.name for p in path.parent.iterdir()) == ["agent.json"]  # no temp files
    assert state_path(path) == path.parent / "agent.state.json"


def test_load_refuses_missing_damaged_and_unsafe_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not enrolled"):
        load_config(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid agent configuration"):
        load_config(bad)
    unsafe = tmp_path / "unsafe.json"
    save_config(unsafe, sample(server_url="http://192.0.2.7"))
    with pytest.raises(ConfigError, match="refusing plain http"):
        load_config(unsafe)
    save_config(unsafe, sample(server_url="http://192.0.2.7", insecure=True))
    assert load_config(unsafe).insecure


def test_config_update_is_applied_and_the_token_never_shown() -> None:
    cfg = sample()
    assert not cfg.apply(
        AgentConfig(heartbeat_interval_seconds=60, inventory_interval_seconds=3600)
    )
    assert cfg.apply(AgentConfig(heartbeat_interval_seconds=15, inventory_interval_seconds=600))
    assert (cfg.heartbeat_interval_seconds, cfg.inventory_interval_seconds) == (15, 600)
    assert "auth_token" not in cfg.redacted()
    assert "secret-token" not in json.dumps(cfg.redacted())


def test_interval_overrides_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = sample(heartbeat_interval_seconds=60, inventory_interval_seconds=3600)
    monkeypatch.delenv(ENV_HEARTBEAT_INTERVAL, raising=False)
    monkeypatch.delenv(ENV_INVENTORY_INTERVAL, raising=False)
    assert effective_intervals(cfg) == (60.0, 3600.0)
    monkeypatch.setenv(ENV_HEARTBEAT_INTERVAL, "2.5")
    monkeypatch.setenv(ENV_INVENTORY_INTERVAL, "0")  # floored at one second
    assert effective_intervals(cfg) == (2.5, 1.0)
    monkeypatch.setenv(ENV_HEARTBEAT_INTERVAL, "soon")
    with pytest.raises(ConfigError, match=ENV_HEARTBEAT_INTERVAL):
        effective_intervals(cfg)


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "x.json"))
    assert default_config_path() == tmp_path / "x.json"
    monkeypatch.delenv(ENV_CONFIG)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    expected = ROOT_CONFIG if os.geteuid() == 0 else tmp_path / "xdg/breeze-agent/agent.json"
    assert default_config_path() == expected


def test_default_path_of_an_unprivileged_user(tmp_path: Path) -> None:
    home = tmp_path / "home"  # never created: only the path is computed
    code = "from breeze_agent.config import default_config_path as d; print(d())"
    env = {k: v for k, v in os.environ.items() if k not in (ENV_CONFIG, "XDG_CONFIG_HOME")}
    env["HOME"] = str(home)
    python, env = unprivileged_python(env)  # as nobody, from a copy nobody can read
    out = subprocess.run(
        [*python, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=unprivileged_cwd(),
        check=True,
    ).stdout.strip()
    assert out == str(home / ".config/breeze-agent/agent.json")


def test_machine_id_prefers_the_os_and_else_persists_its_own(tmp_path: Path) -> None:
    os_id = tmp_path / "machine-id"
    os_id.write_text("3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    state = tmp_path / "state"
    assert machine_id(state, (tmp_path / "absent", os_id)) == "3d1219c7c4c5404aaa1f6d2a48adfda4"
    assert not state.exists()
    first = machine_id(state, (tmp_path / "absent",))
    assert len(first) == 32 and machine_id(state, (tmp_path / "absent",)) == first
    assert mode(state / "machine-id") == 0o600
    (tmp_path / "short").write_text("abc\n")  # too short to be an identity
    assert machine_id(state, (tmp_path / "short",)) == first


def test_cli_refuses_plain_http_and_writes_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.json"
    proc = agent("enroll", "--server", "http://192.0.2.7:8000", "--key", "k" * 20, "-c", str(cfg))
    assert proc.returncode == 2, proc.stderr
    assert "refusing plain http" in proc.stderr
    assert not cfg.exists()


def test_cli_without_enrollment(tmp_path: Path) -> None:
    for command in ("status", "run"):
        proc = agent(command, "--config", str(tmp_path / "none.json"))
        assert proc.returncode == 4, (command, proc.stderr)
        assert "not enrolled" in proc.stderr


def test_cli_run_refuses_a_bad_override_or_a_missing_ca(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.json"
    save_config(cfg, sample())
    proc = agent("run", "-c", str(cfg), env={ENV_INVENTORY_INTERVAL: "hourly"})
    assert proc.returncode == 2 and ENV_INVENTORY_INTERVAL in proc.stderr
    save_config(cfg, sample(ca_cert=str(tmp_path / "gone.pem")))
    proc = agent("run", "-c", str(cfg))
    assert proc.returncode == 2 and "gone.pem does not exist" in proc.stderr


def test_cli_status_hides_the_token(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.json"
    save_config(cfg, sample())
    proc = agent("status", "--json", env={ENV_CONFIG: str(cfg)})
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["agent_id"] == "agt_0123456789" and info["config"] == str(cfg)
    assert info["last_heartbeat_at"] is None
    assert "secret-token" not in proc.stdout and "auth_token" not in info
