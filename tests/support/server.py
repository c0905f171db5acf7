"""A real Breeze server in a subprocess on a loopback port, on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.databases import TestDatabase

ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "quiet-harbour-lantern-7319"
SECRET = "test-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    data_dir: Path
    database: TestDatabase
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BREEZE_")}
        env.update(
            {
                "BREEZE_ENV": "test",
                "BREEZE_DATA_DIR": str(self.data_dir),
                "BREEZE_DATABASE_URL": self.database.url,
                "BREEZE_SECRET_KEY": SECRET,
                "BREEZE_SERVER__PUBLIC_URL": self.url,
                "BREEZE_AUTH__LOGIN_MAX_FAILURES_PER_IP": "100000",
                # Session-wide fixtures sign in once; on a slow machine the suite outlives
                # the default 15-minute access token (seen: web tests failing with 401).
                "BREEZE_AUTH__ACCESS_TOKEN_TTL_SECONDS": "86400",
                "BREEZE_LOG_LEVEL": "warning",
                # A test session keeps many servers alive on one PostgreSQL: few idle
                # connections each keep the sum under max_connections.
                "BREEZE_DATABASE_POOL_SIZE": "2",
                "BREEZE_DATABASE_MAX_OVERFLOW": "15",
            }
        )
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "breeze.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "breeze.cli", "server", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        path = self.data_dir / "server.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )


def start_server(base: Path, database: TestDatabase, **extra_env: str) -> LiveServer:
    """Migrate, create the platform admin, start; the caller stops it."""
    server = LiveServer(
        data_dir=base / f"srv-{uuid.uuid4().hex[:8]}", database=database, extra_env=dict(extra_env)
    )
    server.data_dir.mkdir(parents=True)
    server.cli("migrate")
    server.cli(
        "admin",
        "create",
        "--email",
        ADMIN_EMAIL,
        "--password",
        ADMIN_PASSWORD,
        "--name",
        "Root Admin",
    )
    server.start()
    return server
