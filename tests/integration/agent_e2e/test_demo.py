"""``breeze demo`` (what ``make run`` starts) on an empty data directory: within a minute a
newcomer can sign in and sees this machine as an online device with real data. Stopping
the demo stops its agent; starting it again reuses the agent's enrollment."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import pytest

from breeze_agent.config import load_config
from tests.factories import login, ok
from tests.integration.agent_e2e.conftest import eventually
from tests.support.databases import new_database
from tests.support.server import LiveServer


class Demo:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.proc: subprocess.Popen[bytes] | None = None
        self.output = server.data_dir / "demo.out"

    def start(self) -> None:
        env = {**self.server.env, "COLUMNS": "200"}
        with self.output.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "breeze.cli", "demo", "--port", str(self.server.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.text()
            try:
                return httpx.get(f"{self.server.url}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(ready, timeout=60, what="the demo server")

    def agent_processes(self) -> list[Any]:
        """The local agent's supervisors (``breeze-agent run``; each runs one child)."""
        return [p for p in self.agent_tree() if "--child" not in p.cmdline()]

    def agent_tree(self) -> list[Any]:
        assert self.proc is not None
        return [
            p
            for p in psutil.Process(self.proc.pid).children(recursive=True)
            if "breeze_agent.cli" in " ".join(p.cmdline())
        ]

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""


@pytest.fixture
def demo(work_dir: Path) -> Iterator[Demo]:
    database = new_database(work_dir / "db")
    server = LiveServer(
        data_dir=work_dir / f"demo-{os.getpid()}-{time.time_ns()}", database=database
    )
    server.data_dir.mkdir(parents=True)
    if not database.url.startswith("sqlite"):
        server.cli("migrate")  # embedded (SQLite) mode migrates itself
    d = Demo(server)
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.proc.kill()
        d.proc.wait()
    database.drop()  # type: ignore[attr-defined]


def _password(data_dir: Path) -> str:
    lines = (data_dir / "demo-credentials.txt").read_text().splitlines()
    return next(line.split(": ", 1)[1] for line in lines if line.startswith("password: "))


def test_demo_shows_this_machine_within_a_minute(demo: Demo) -> None:
    started = time.monotonic()
    demo.start()
    data_dir = demo.server.data_dir
    admin = login(demo.server.url, "admin@example.com", _password(data_dir))

    def online_device() -> dict[str, Any] | None:
        items = ok(admin.get("/api/v1/devices"))["items"]
        return items[0] if items and items[0]["status"] == "online" else None

    dev = eventually(online_device, timeout=60, what="the local device")
    hardware = eventually(
        lambda: ok(admin.get(f"/api/v1/devices/{dev['id']}/hardware"))["cpu_threads"],
        what="the hardware inventory",
    )
    assert hardware == os.cpu_count()
    eventually(
        lambda: ok(admin.get(f"/api/v1/devices/{dev['id']}/metrics"))["points"],
        what="a metrics point",
    )
    assert time.monotonic() - started < 60, "a newcomer waited more than a minute"

    config_file = data_dir / "agent" / "agent.json"
    assert load_config(config_file).device_id == dev["id"]
    for secret in (config_file, data_dir / "demo-enrollment-key.txt"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    key = (data_dir / "demo-enrollment-key.txt").read_text().strip()
    out = demo.text()
    assert "admin@example.com" in out and f"--key {key}" in out and "/api/v1/docs" in out
    assert f"Web console: {demo.server.url}/" in out
    # The console is served: a browser asking for it is sent to the sign-in page.
    page = httpx.get(f"{demo.server.url}/devices", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    agents = demo.agent_tree()
    assert len(demo.agent_processes()) == 1 and len(agents) == 2

    assert demo.stop() == 0, demo.text()
    psutil.wait_procs(agents, timeout=30)
    assert not any(p.is_running() for p in agents), "the agent outlived the demo"

    # a second run reuses the enrollment: same device, no duplicate
    demo.start()
    admin = login(demo.server.url, "admin@example.com", _password(data_dir))
    eventually(
        lambda: (
            len(demo.agent_processes()) == 1
            and "local agent running" in demo.text().split("Existing data")[-1]
        ),
        timeout=60,
        what="the agent to run again",
    )
    items = ok(admin.get("/api/v1/devices"))["items"]
    assert [d["id"] for d in items] == [dev["id"]]
    assert load_config(config_file).device_id == dev["id"]
    assert demo.stop() == 0
