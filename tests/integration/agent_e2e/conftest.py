"""A real ``breeze-agent`` process enrolled against a real Breeze server on loopback.

The server runs with a 5 s heartbeat interval, offline after one missed beat and a
0.5 s presence sweep; the agent beats every 1 s and checks its inventory every 2 s
(``BREEZE_AGENT_*_INTERVAL``) so each test sees the next beat or delta quickly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from breeze_agent.config import AgentFileConfig, load_config
from tests.factories import Tenant, login, make_tenant, ok, unique
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

T = TypeVar("T")

E2E_SERVER_ENV = {
    "BREEZE_AGENTS__HEARTBEAT_INTERVAL_SECONDS": "5",
    "BREEZE_AGENTS__OFFLINE_AFTER_MISSED": "1",
    "BREEZE_AGENTS__PRESENCE_SWEEP_SECONDS": "0.5",
}
AGENT_ENV = {"BREEZE_AGENT_HEARTBEAT_INTERVAL": "1", "BREEZE_AGENT_INVENTORY_INTERVAL": "2"}
REQUIRED_PATHS = {
    ("post", "/api/v1/enrollment-keys"),
    ("post", "/api/v1/agents/enroll"),
    ("post", "/api/v1/agents/{agent_id}/heartbeat"),
    ("put", "/api/v1/agents/{agent_id}/inventory"),
    ("get", "/api/v1/devices"),
    ("get", "/api/v1/devices/{device_id}/software"),
    ("get", "/api/v1/devices/{device_id}/changes"),
    ("get", "/api/v1/devices/{device_id}/metrics"),
    ("delete", "/api/v1/devices/{device_id}"),
}


def eventually(
    probe: Callable[[], T | None], *, timeout: float = 30.0, every: float = 0.25, what: str = ""
) -> T:
    """The first truthy value of ``probe()`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or probe}")
        time.sleep(every)


@dataclass
class AgentProcess:
    """``python -m breeze_agent.cli`` with its own config directory."""

    home: Path
    env: dict[str, str] = field(default_factory=lambda: dict(AGENT_ENV))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.home / "agent.json"

    @property
    def log_path(self) -> Path:
        return self.home / "agent.log"

    def _env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("BREEZE_")}
        return {**base, **self.env}

    def cli(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "breeze_agent.cli", *args, "--config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env={**self._env(), **extra_env},
        )

    def enroll(self, server_url: str, key: str) -> AgentFileConfig:
        done = self.cli("enroll", "--server", server_url, "--key", key)
        assert done.returncode == 0, done.stderr
        return load_config(self.config_path)

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "breeze_agent.cli",
                    "run",
                    "--config",
                    str(self.config_path),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
            )

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def e2e_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory(**E2E_SERVER_ENV)


@pytest.fixture(scope="session")
def e2e_admin(e2e_server: LiveServer) -> Iterator[httpx.Client]:
    c = login(e2e_server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    paths: dict[str, Any] = ok(c.get("/api/v1/openapi.json"))["paths"]
    missing = sorted(f"{m.upper()} {p}" for m, p in REQUIRED_PATHS if m not in paths.get(p, {}))
    if missing:
        pytest.fail(f"the server does not offer {', '.join(missing)} yet")
    yield c
    c.close()


@pytest.fixture
def e2e_tenant(e2e_admin: httpx.Client) -> Tenant:
    return make_tenant(e2e_admin)


def enrollment_key(admin: httpx.Client, org_id: str, **fields: Any) -> str:
    body = {"name": unique("key"), "org_id": org_id, **fields}
    return str(ok(admin.post("/api/v1/enrollment-keys", json=body), 201)["key"])


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    proc = AgentProcess(home=tmp_path / "agent")
    yield proc
    proc.stop()


def device(admin: httpx.Client, device_id: str) -> dict[str, Any]:
    return ok(admin.get(f"/api/v1/devices/{device_id}"))  # type: ignore[no-any-return]


def all_pages(admin: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = ok(admin.get(path, params={**params, "page": page, "per_page": 200}))
        items.extend(body["items"])
        if len(items) >= body["total"] or not body["items"]:
            return items
        page += 1
