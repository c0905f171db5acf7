"""The agent's configuration file and where it lives.

The file (JSON, mode 0600) holds what enrollment returned: the server URL, the agent and
device ids, the bearer token and the intervals. Its path is, first match wins: ``--config``,
``$BREEZE_AGENT_CONFIG``, ``/etc/breeze-agent/agent.json`` when running as root, else
``$XDG_CONFIG_HOME/breeze-agent/agent.json`` (``~/.config/...``).

Beside it live the state file (``<name>.state.json``: what the agent last did), the command
journal (``<name>.journal.json``: seen nonces, results not yet delivered) and, on machines
without a systemd/dbus machine id, the generated ``machine-id``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from breeze_protocol import AgentConfig

ENV_CONFIG = "BREEZE_AGENT_CONFIG"
# Local overrides of the server-given intervals (operators and tests); seconds, >= 1.
ENV_HEARTBEAT_INTERVAL = "BREEZE_AGENT_HEARTBEAT_INTERVAL"
ENV_INVENTORY_INTERVAL = "BREEZE_AGENT_INVENTORY_INTERVAL"
log = logging.getLogger(__name__)
ROOT_CONFIG = Path("/etc/breeze-agent/agent.json")
MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


class ConfigError(Exception):
    """The configuration is missing, unreadable or unsafe; the message says what to do."""


class AgentFileConfig(BaseModel):
    """Contents of ``agent.json``."""

    model_config = ConfigDict(extra="ignore")

    server_url: str = Field(description="Base URL of the Breeze server, without /api/v1.")
    agent_id: str
    device_id: str
    auth_token: str
    heartbeat_interval_seconds: int = Field(60, ge=1)
    inventory_interval_seconds: int = Field(3600, ge=1)
    config_version: int | None = Field(
        None, description="Server's number of the configuration last applied (echoed back)."
    )
    ca_cert: str | None = Field(None, description="CA bundle pinning the server's certificate.")
    insecure: bool = Field(False, description="Plain http:// to a non-loopback host allowed.")
    command_public_key: str | None = Field(
        None,
        description="The server's Ed25519 command key (base64url). The first one received is "
        "kept for good: a later, different key is ignored, so a compromised config channel "
        "cannot swap in a key of its own.",
    )

    def apply(self, update: AgentConfig, version: int | None = None) -> bool:
        """Take the server's new settings (and their version); True when anything changed."""
        changed = (
            self.heartbeat_interval_seconds != update.heartbeat_interval_seconds
            or self.inventory_interval_seconds != update.inventory_interval_seconds
            or (version is not None and version != self.config_version)
        )
        changed = self.take_command_key(update.command_public_key) or changed
        self.heartbeat_interval_seconds = update.heartbeat_interval_seconds
        self.inventory_interval_seconds = update.inventory_interval_seconds
        if version is not None:
            self.config_version = version
        return changed

    def take_command_key(self, key: str | None) -> bool:
        """Keep the first command key; True when this one was taken (it was the first)."""
        if not key or key == self.command_public_key:
            return False
        if self.command_public_key:
            log.warning(
                "the server offered a different command key; keeping the one from enrollment "
                "(commands signed by the new key will be refused; re-enroll to accept it)"
            )
            return False
        self.command_public_key = key
        log.info("command signing key received")
        return True

    def redacted(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data.pop("auth_token", None)
        return data


def default_config_path() -> Path:
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_CONFIG
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "breeze-agent" / "agent.json"


def resolve_config_path(path: Path | str | None) -> Path:
    return Path(path).expanduser() if path else default_config_path()


def state_path(config_path: Path) -> Path:
    return config_path.with_name(config_path.stem + ".state.json")


def journal_path(config_path: Path) -> Path:
    return config_path.with_name(config_path.stem + ".journal.json")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to ``path`` with mode 0600 (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_config(path: Path, config: AgentFileConfig) -> None:
    write_private(path, config.model_dump_json(indent=2) + "\n")


def load_config(path: Path) -> AgentFileConfig:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"not enrolled: {path} does not exist (run 'breeze-agent enroll' first)"
        ) from None
    except PermissionError:
        raise ConfigError(f"cannot read {path}: permission denied") from None
    try:
        config = AgentFileConfig.model_validate(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not a valid agent configuration: {exc}") from None
    check_server_url(config.server_url, insecure=config.insecure)
    return config


def effective_intervals(config: AgentFileConfig) -> tuple[float, float]:
    """(heartbeat, inventory) seconds: the config's, unless overridden by the environment."""

    def _env(name: str, default: int) -> float:
        raw = os.environ.get(name)
        if not raw:
            return float(default)
        try:
            return max(1.0, float(raw))
        except ValueError:
            raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None

    return (
        _env(ENV_HEARTBEAT_INTERVAL, config.heartbeat_interval_seconds),
        _env(ENV_INVENTORY_INTERVAL, config.inventory_interval_seconds),
    )


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_server_url(url: str, *, insecure: bool = False) -> str:
    """The normalised server URL; refuses plain http to a non-loopback host unless insecure."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"server URL must be http(s)://host[:port], not {url!r}")
    if parts.scheme == "http" and not insecure and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: the agent token would travel "
            "unencrypted. Use https:// (with --ca-cert for a private CA), or pass --insecure."
        )
    path = parts.path.rstrip("/")
    if path.endswith("/api/v1"):
        path = path[: -len("/api/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def machine_id(state_dir: Path, sources: tuple[Path, ...] = MACHINE_ID_FILES) -> str:
    """The OS's stable machine id; else one generated once and kept in ``state_dir``."""
    for source in sources:
        try:
            value = source.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        if len(value) >= 8:
            return value
    own = state_dir / "machine-id"
    try:
        value = own.read_text(encoding="ascii").strip()
        if len(value) >= 8:
            return value
    except OSError:
        pass
    value = uuid.uuid4().hex
    write_private(own, value + "\n")
    return value
