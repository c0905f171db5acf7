"""The agent against a small real HTTP gateway on loopback (Starlette + uvicorn in a thread).

The gateway validates every body with breeze_protocol and answers what each test scripts:
503 + Retry-After, 401, a config_update. What is proved: enrollment writes a 0600 config and
sends a full inventory; Retry-After is honoured; backoff on a dead server does not spin;
config_update is applied and persisted; 401 ends the agent with its own exit code after one
request; SIGTERM stops ``breeze-agent run`` cleanly; deltas carry only changed sections.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breeze_agent.config import AgentFileConfig, load_config, save_config, state_path
from breeze_agent.service import EXIT_REVOKED, Service
from breeze_agent.state import load_state, save_state
from breeze_protocol import INVENTORY_SECTIONS, EnrollRequest, HeartbeatRequest, Inventory

Answer = Callable[[], Response]
AGENT_CMD = (sys.executable, "-m", "breeze_agent.cli")


@dataclass
class Seen:
    at: float
    method: str
    path: str
    body: dict[str, Any]
    config_version: str | None = None


@dataclass
class FakeGateway:
    """Records requests; answers heartbeats from a script, then with ``default``."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    heartbeat_script: list[Answer] = field(default_factory=list)
    default: Answer = field(default=lambda: JSONResponse({"commands": []}))

    def reset(self) -> None:
        self.seen.clear()
        self.heartbeat_script.clear()
        self.default = lambda: JSONResponse({"commands": []})

    def of(self, kind: str) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith(kind)]

    async def enroll(self, request: Request) -> Response:
        body = EnrollRequest.model_validate_json(await request.body())
        self.seen.append(Seen(time.monotonic(), "POST", request.url.path, body.model_dump()))
        return JSONResponse(
            {
                "agent_id": "agt_fake0001",
                "device_id": "00000000-0000-4000-8000-0000000000aa",
                "auth_token": "brz_agt_fake-token",
                "config": {"heartbeat_interval_seconds": 60, "inventory_interval_seconds": 3600},
            },
            status_code=201,
            headers={"X-Breeze-Config-Version": "1"},
        )

    async def heartbeat(self, request: Request) -> Response:
        assert request.headers["authorization"] == "Bearer brz_agt_fake-token"
        body = HeartbeatRequest.model_validate_json(await request.body())
        echo = request.headers.get("x-breeze-config-version")
        self.seen.append(Seen(time.monotonic(), "POST", request.url.path, body.model_dump(), echo))
        answer = self.heartbeat_script.pop(0) if self.heartbeat_script else self.default
        return answer()

    async def inventory(self, request: Request) -> Response:
        body = Inventory.model_validate_json(await request.body())
        self.seen.append(
            Seen(time.monotonic(), "PUT", request.url.path, body.model_dump(mode="json"))
        )
        return Response(status_code=204)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gateway() -> Iterator[FakeGateway]:
    gw = FakeGateway()
    app = Starlette(
        routes=[
            Route("/api/v1/agents/enroll", gw.enroll, methods=["POST"]),
            Route("/api/v1/agents/{agent_id}/heartbeat", gw.heartbeat, methods=["POST"]),
            Route("/api/v1/agents/{agent_id}/inventory", gw.inventory, methods=["PUT"]),
        ]
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    gw.url = f"http://127.0.0.1:{port}"
    yield gw
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def fake(gateway: FakeGateway) -> FakeGateway:
    gateway.reset()
    return gateway


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "breeze_agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **(env or {})},
    )


def enrolled_config(tmp_path: Path, url: str, **changes: Any) -> Path:
    path = tmp_path / "agent.json"
    data = {
        "server_url": url,
        "agent_id": "agt_fake0001",
        "device_id": "00000000-0000-4000-8000-0000000000aa",
        "auth_token": "brz_agt_fake-token",
        **changes,
    }
    save_config(path, AgentFileConfig.model_validate(data))
    return path


async def run_until(service: Service, done: Callable[[], bool], limit: float = 20) -> int:
    """Run the service until ``done()`` (or ``limit`` seconds), then stop it."""
    task = asyncio.create_task(service.run(signals=False))
    deadline = time.monotonic() + limit
    while not done() and not task.done() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    service.stop()
    return await asyncio.wait_for(task, timeout=15)


def test_enroll_writes_a_private_config_and_sends_a_full_inventory(
    fake: FakeGateway, tmp_path: Path
) -> None:
    cfg = tmp_path / "etc" / "agent.json"
    proc = agent("enroll", "--server", fake.url, "--key", "brz_enr_" + "k" * 20, "-c", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert oct(cfg.stat().st_mode & 0o777) == "0o600"
    config = load_config(cfg)
    assert (config.agent_id, config.auth_token) == ("agt_fake0001", "brz_agt_fake-token")
    assert config.config_version == 1
    enroll = fake.of("/enroll")[0].body
    assert enroll["enrollment_key"] == "brz_enr_" + "k" * 20
    assert enroll["hardware_info"]["cpu_threads"] == os.cpu_count()
    assert enroll["network_info"]["interfaces"]
    [inventory] = fake.of("/inventory")
    assert inventory.body["mode"] == "full" and inventory.body["software"]["items"]
    state = load_state(state_path(cfg))
    assert state.full_inventory_sent and len(state.section_hashes) == 7
    status = agent("status", "--json", "-c", str(cfg))
    assert json.loads(status.stdout)["device_id"] == config.device_id
    assert "fake-token" not in status.stdout


async def test_retry_after_is_honoured(fake: FakeGateway, tmp_path: Path) -> None:
    busy = lambda: JSONResponse({"detail": "busy"}, 503, headers={"Retry-After": "2"})  # noqa: E731
    fake.heartbeat_script = [busy, busy]
    cfg = enrolled_config(tmp_path, fake.url, heartbeat_interval_seconds=60)
    service = Service(cfg, load_config(cfg), cpu_interval=0.01, backoff_base=0.05)
    await run_until(service, lambda: service.heartbeats_sent >= 1)  # after two 503s
    beats = [s.at for s in fake.of("/heartbeat")]
    assert len(beats) == 3
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert all(2.0 <= g <= 2.0 * 1.1 + 0.5 for g in gaps), gaps  # waited what was asked
    assert service.state.last_heartbeat_ok is True


async def test_errors_back_off_exponentially(fake: FakeGateway, tmp_path: Path) -> None:
    fake.default = lambda: JSONResponse({"detail": "boom"}, 500)
    cfg = enrolled_config(tmp_path, fake.url)
    service = Service(cfg, load_config(cfg), cpu_interval=0.01, backoff_base=0.2, backoff_cap=2)
    started = time.monotonic()
    await run_until(service, lambda: time.monotonic() - started > 3.5)
    beats = [s.at for s in fake.of("/heartbeat")]
    # waits of 0.1-0.2, 0.2-0.4, 0.4-0.8, 0.8-1.6, 1-2 s: a handful of tries, not a spin
    assert 4 <= len(beats) <= 8, len(beats)
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert gaps[-1] > gaps[0] and all(g >= 0.1 for g in gaps)
    assert service.state.last_heartbeat_ok is False
    assert "500" in (service.state.last_heartbeat_result or "")


async def test_a_dead_server_is_retried_and_recorded(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    cfg = enrolled_config(tmp_path, dead)
    service = Service(cfg, load_config(cfg), cpu_interval=0.01, backoff_base=0.2, backoff_cap=1)
    started = time.monotonic()
    code = await run_until(service, lambda: time.monotonic() - started > 1.5)
    assert code == 0 and service.heartbeats_sent == 0
    result = load_state(state_path(cfg))
    assert result.last_heartbeat_ok is False
    assert "ConnectError" in (result.last_heartbeat_result or "")


async def test_config_update_is_applied_and_persisted(fake: FakeGateway, tmp_path: Path) -> None:
    update = {"heartbeat_interval_seconds": 5, "inventory_interval_seconds": 120}
    fake.heartbeat_script = [
        lambda: JSONResponse(
            {"commands": [], "config_update": update}, headers={"X-Breeze-Config-Version": "2"}
        )
    ]
    cfg = enrolled_config(tmp_path, fake.url, config_version=1)
    service = Service(cfg, load_config(cfg), cpu_interval=0.01)
    await run_until(service, lambda: len(fake.of("/heartbeat")) >= 2, limit=15)
    beats = [s.at for s in fake.of("/heartbeat")]
    assert len(beats) == 2 and 4.5 * 0.9 <= beats[1] - beats[0] <= 5.5 + 0.5
    saved = load_config(cfg)
    assert (saved.heartbeat_interval_seconds, saved.inventory_interval_seconds) == (5, 120)
    assert cfg.stat().st_mode & 0o777 == 0o600
    assert saved.auth_token == "brz_agt_fake-token"  # the rest of the file is intact
    assert saved.config_version == 2
    assert [s.config_version for s in fake.of("/heartbeat")] == ["1", "2"]  # echoed back


async def test_unknown_answer_keys_from_a_newer_server_are_tolerated(
    fake: FakeGateway, tmp_path: Path
) -> None:
    fake.default = lambda: JSONResponse({"commands": [], "something_new": {"x": 1}})
    cfg = enrolled_config(tmp_path, fake.url)
    service = Service(cfg, load_config(cfg), cpu_interval=0.01)
    await run_until(service, lambda: service.heartbeats_sent >= 1)
    assert service.state.last_heartbeat_result == "ok"


def test_revoked_token_exits_with_its_own_code_without_spinning(
    fake: FakeGateway, tmp_path: Path
) -> None:
    fake.default = lambda: JSONResponse({"detail": "device removed"}, 401)
    cfg = enrolled_config(tmp_path, fake.url)
    started = time.monotonic()
    proc = agent("run", "-c", str(cfg))
    assert proc.returncode == EXIT_REVOKED, proc.stderr
    assert time.monotonic() - started < 60
    assert len(fake.of("/heartbeat")) == 1
    assert "device was removed or its token revoked" in proc.stderr
    state = load_state(state_path(cfg))
    assert state.last_heartbeat_ok is False and "revoked" in (state.last_heartbeat_result or "")


def test_sigterm_stops_the_service_cleanly(fake: FakeGateway, tmp_path: Path) -> None:
    cfg = enrolled_config(tmp_path, fake.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "breeze_agent.cli", "run", "-c", str(cfg)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        saved = state_path(cfg)
        while not (load_state(saved).last_heartbeat_ok and load_state(saved).full_inventory_sent):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stop requested" in stderr and "Traceback" not in stderr
    state = load_state(state_path(cfg))
    assert state.last_heartbeat_result == "ok" and state.full_inventory_sent


async def test_full_inventory_once_then_only_changed_sections(
    fake: FakeGateway, tmp_path: Path
) -> None:
    cfg = enrolled_config(tmp_path, fake.url)
    first = Service(cfg, load_config(cfg), cpu_interval=0.01)
    saved = state_path(cfg)
    # stop once the agent recorded the server's acceptance (not merely sent the request)
    await run_until(first, lambda: load_state(saved).last_inventory_mode == "full")
    assert [s.body["mode"] for s in fake.of("/inventory")] == ["full"]
    # Pretend the server last saw another software list: the next start sends only that.
    state = load_state(state_path(cfg))
    state.section_hashes["software"] = "0" * 64
    save_state(state_path(cfg), state)
    second = Service(cfg, load_config(cfg), cpu_interval=0.01)
    await run_until(second, lambda: load_state(saved).last_inventory_mode == "delta")
    body = fake.of("/inventory")[1].body
    assert body["mode"] == "delta" and body["software"]["items"]
    # exactly the sections whose hash moved were sent (disks' free space moves on its own)
    after = load_state(state_path(cfg)).section_hashes
    sent = {k for k in INVENTORY_SECTIONS if body.get(k)}
    moved = {k for k in INVENTORY_SECTIONS if after[k] != state.section_hashes[k]}
    assert sent == moved and "software" in sent
    assert sent <= {"software", "disks", "users", "network", "remote_access"}, sent
    # Nothing changed since: the next start checks and sends no software, hardware, ...
    third = Service(cfg, load_config(cfg), cpu_interval=0.01)
    started = time.monotonic()
    await run_until(third, lambda: time.monotonic() - started > 3)
    for later in fake.of("/inventory")[2:]:
        assert later.body["mode"] == "delta"
        assert [k for k in ("hardware", "os", "software") if later.body[k]] == []


def test_sigusr1_checks_the_inventory_now(fake: FakeGateway, tmp_path: Path) -> None:
    cfg = enrolled_config(tmp_path, fake.url, inventory_interval_seconds=3600)
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*AGENT_CMD, "run", "-c", str(cfg), "--log-level", "debug"],
            stderr=out,
        )
    checks = ("full inventory sent", "inventory delta sent", "inventory unchanged")

    def count() -> int:
        return sum(log.read_text().count(c) for c in checks)

    try:
        deadline = time.monotonic() + 60
        while count() < 1:  # the check at start
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.1)
        for expected in (2, 3):  # each signal: one more check, long before the hour
            proc.send_signal(signal.SIGUSR1)
            while count() < expected:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
