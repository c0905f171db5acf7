"""Typed settings, grouped by concern.

Values come from `BREEZE_*` environment variables (nested groups use a double
underscore: `BREEZE_SMTP__HOST`), then an optional TOML file
(`BREEZE_CONFIG_FILE`, or `breeze.toml` in the data directory), then defaults.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from breeze_protocol.commands import MAX_OUTPUT_BYTES

WEAK_SECRETS = frozenset({"", "changeme", "change-me", "secret", "breeze", "password", "dev"})
MIN_SECRET_LENGTH = 32


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the HTTP server.")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL users and agents reach the server at; used in emailed links.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest accepted request body (413 above it)."
    )
    max_inventory_bytes: int = Field(
        16 * 1_048_576,
        ge=1024,
        description="Largest accepted agent inventory upload (thousands of packages) or "
        "command result (two capped output streams as JSON).",
    )
    trusted_proxies: str = Field(
        "127.0.0.1", description="Comma-separated proxy addresses whose X-Forwarded-For is trusted."
    )
    run_worker: bool = Field(
        True, description="Run the background worker loop inside the server (embedded mode)."
    )
    listen_backlog: int = Field(
        4096,
        ge=64,
        le=65535,
        description="Connections the kernel queues until the server accepts them. After a "
        "broadcast every agent connects at once to report; a full queue makes the kernel "
        "drop them and each agent retries a second or more later. The kernel caps it at "
        "net.core.somaxconn.",
    )
    ws_ping_interval_seconds: float = Field(
        60.0,
        ge=5,
        le=3600,
        description="How often the server pings each open WebSocket to find dead peers. "
        "Agents ping the server every 30 s themselves (that is how they notice a dead "
        "server), so this only reclaims sockets of agents that vanished; presence comes "
        "from heartbeats, not from the socket. Every ping is a frame each way per agent.",
    )
    gc_young_threshold: int = Field(
        50_000,
        ge=700,
        le=1_000_000,
        description="Allocations between collections of the garbage collector's youngest "
        "generation in the server process (CPython's default is 700). Every collection "
        "holds the event loop; see breeze_gc_pause_seconds on /metrics.",
    )
    ws_compression: bool = Field(
        False,
        description="Offer per-message deflate on WebSockets (agents and browsers). Off: "
        "agent frames are small JSON, and compressing each one costs CPU on both ends and "
        "a compression context per open socket; a broadcast to thousands of agents spent "
        "more time compressing than sending.",
    )
    opentelemetry: bool = Field(
        False,
        description="FastAPI's OpenTelemetry spans, metrics and logs for every request, when "
        "an OpenTelemetry SDK is configured in the process. Off: checking for one costs "
        "CPU on every heartbeat; Breeze's own Prometheus metrics are always on (/metrics).",
    )


class AuthSettings(BaseModel):
    access_token_ttl_seconds: int = Field(900, ge=60, description="Lifetime of an access token.")
    refresh_token_ttl_seconds: int = Field(
        30 * 86400, ge=300, description="Lifetime of a session and its refresh tokens."
    )
    session_idle_timeout_seconds: int = Field(
        8 * 3600, ge=60, description="A console session ends after this long without use."
    )
    mfa_token_ttl_seconds: int = Field(300, ge=30, description="Time to finish the MFA step.")
    password_min_length: int = Field(12, ge=8, le=64, description="Shortest accepted password.")
    password_min_score: int = Field(
        3, ge=0, le=4, description="Lowest accepted zxcvbn strength score (0-4)."
    )
    reset_token_ttl_seconds: int = Field(3600, ge=60, description="Password-reset link lifetime.")
    invitation_ttl_seconds: int = Field(7 * 86400, ge=300, description="Invitation lifetime.")
    login_max_failures_per_account: int = Field(
        5, ge=1, description="Failed logins per account within the window before 429."
    )
    login_max_failures_per_ip: int = Field(
        20, ge=1, description="Failed logins per client IP within the window before 429."
    )
    login_window_seconds: int = Field(900, ge=1, description="Throttling window for failures.")
    cookie_secure: bool = Field(
        False, description="Mark console cookies Secure (set true behind HTTPS)."
    )


class SmtpSettings(BaseModel):
    host: str | None = Field(None, description="SMTP server; email is disabled when unset.")
    port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    username: str | None = Field(None, description="SMTP user, when the server needs a login.")
    password: SecretStr | None = Field(None, description="SMTP password.")
    starttls: bool = Field(False, description="Upgrade the connection with STARTTLS.")
    use_tls: bool = Field(False, description="Connect with implicit TLS (port 465).")
    sender: str = Field("Breeze <breeze@localhost>", description="From address of outgoing mail.")
    timeout_seconds: float = Field(10.0, gt=0, description="Give up on a delivery after this.")


class AgentSettings(BaseModel):
    heartbeat_interval_seconds: int = Field(
        60, ge=5, le=3600, description="Default seconds between agent heartbeats."
    )
    inventory_interval_seconds: int = Field(
        3600, ge=60, le=86400, description="Seconds between the agent's inventory delta checks."
    )
    offline_after_missed: int = Field(
        3, ge=1, le=100, description="A device goes offline after this many missed heartbeats."
    )
    presence_sweep_seconds: float = Field(
        10.0, gt=0, description="How often the offline-detection sweep runs."
    )


class MetricsSettings(BaseModel):
    buffer_max_rows: int = Field(
        50_000, ge=1, description="Heartbeats held for the bulk flush; beyond it agents get 503."
    )
    flush_interval_seconds: float = Field(
        0.5, gt=0, le=1.0, description="Longest time an accepted heartbeat waits to be written."
    )
    retry_after_seconds: int = Field(
        5, ge=1, description="Retry-After sent to agents when the buffer is full."
    )
    raw_retention_days: int = Field(30, ge=1, description="Days raw metric samples are kept.")
    hourly_retention_days: int = Field(365, ge=1, description="Days hourly rollups are kept.")


class CommandSettings(BaseModel):
    default_expiry_seconds: int = Field(
        86_400,
        ge=60,
        le=30 * 86_400,
        description="How long a command for an offline device waits to be started before it "
        "times out as expired (a request may ask for less or more, up to the maximum).",
    )
    redeliver_after_seconds: int = Field(
        60,
        ge=1,
        le=86_400,
        description="A command handed out but never acknowledged by the agent is handed out "
        "again after this long (the agent runs a command id at most once).",
    )
    sweep_interval_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="How often the command sweep (expiry, re-delivery, timeouts) runs.",
    )
    result_grace_seconds: int = Field(
        60,
        ge=0,
        le=86_400,
        description="Added to a running command's timeout before the sweep marks it timed "
        "out for want of a result (a result that arrives later is still kept).",
    )
    max_output_bytes: int = Field(
        65_536,
        ge=1024,
        le=MAX_OUTPUT_BYTES,
        description="Output kept per stream (stdout, stderr) of a script; the agent truncates "
        "beyond it.",
    )
    output_chunk_limit: int = Field(
        2000,
        ge=10,
        le=100_000,
        description="Live output chunks stored per running command; later ones are dropped "
        "(the final result still carries the whole capped output).",
    )
    signing_key_file: Path | None = Field(
        None,
        description="PEM file of the Ed25519 key that signs commands; default "
        "command-signing.key in the data directory, created on first use. Every server "
        "replica must share the same file (agents trust only the first key they are given).",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BREEZE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Literal["development", "production", "test"] = Field(
        "development",
        description="development, test or production; production refuses default secrets.",
    )
    data_dir: Path = Field(
        Path("./data"), description="Directory for the SQLite file, keys and local state."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL; defaults to SQLite in the data directory. "
        "PostgreSQL: postgresql+asyncpg://user@host/db",
    )
    database_pool_size: int = Field(
        20,
        ge=1,
        le=500,
        description="PostgreSQL connections each process keeps open; every server and worker "
        "holds up to pool size + overflow, so keep their sum under max_connections. Under "
        "load, connections beyond this are opened and closed per use (measured as a cost).",
    )
    database_max_overflow: int = Field(
        10, ge=0, le=500, description="Extra PostgreSQL connections a process opens under load."
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL; the event bus (command pushes, live updates) and login "
        "throttling shared between server processes (scale-out).",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs tokens and encrypts MFA secrets. Required in production; in "
        "development a random key is generated once and kept in the data directory.",
    )
    log_level: str = Field("info", description="Log level of the server.")
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    agents: AgentSettings = Field(default_factory=AgentSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    commands: CommandSettings = Field(default_factory=CommandSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _toml_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'breeze.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def secret(self) -> str:
        """The signing secret; in development generated once and persisted."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.data_dir / "secret.key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        key_file.write_text(value)
        key_file.chmod(0o600)
        return value

    def production_problems(self) -> list[str]:
        """What keeps this configuration from running in production."""
        problems: list[str] = []
        raw = self.secret_key.get_secret_value() if self.secret_key else ""
        if raw.strip().lower() in WEAK_SECRETS or len(raw) < MIN_SECRET_LENGTH:
            problems.append(
                f"BREEZE_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters"
            )
        if self.smtp.password is not None and self.smtp.password.get_secret_value() in WEAK_SECRETS:
            problems.append("BREEZE_SMTP__PASSWORD is a default or empty value")
        return problems


def _toml_path() -> Path | None:
    explicit = os.environ.get("BREEZE_CONFIG_FILE")
    if explicit:
        return Path(explicit)
    candidate = Path(os.environ.get("BREEZE_DATA_DIR", "./data")) / "breeze.toml"
    return candidate if candidate.exists() else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
