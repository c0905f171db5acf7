"""The agent's life against a real server: a package installed and removed shows up in the
device's history through inventory deltas; stopping the agent takes the device offline and
restarting brings it back; decommissioning ends the agent with its own exit code."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from breeze_agent.config import AgentFileConfig, state_path
from breeze_agent.service import EXIT_REVOKED
from breeze_agent.state import load_state
from tests.agent.helpers import require_root, sh
from tests.factories import Tenant, ok
from tests.integration.agent_e2e.conftest import (
    AgentProcess,
    all_pages,
    device,
    enrollment_key,
    eventually,
)
from tests.support.server import LiveServer


def _running_agent(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, agent: AgentProcess
) -> AgentFileConfig:
    config = agent.enroll(server.url, enrollment_key(admin, tenant.org["id"]))
    agent.start()
    state = state_path(agent.config_path)
    eventually(lambda: load_state(state).last_heartbeat_ok, what="a first accepted heartbeat")
    return config


def _build_deb(root: Path, name: str, version: str) -> Path:
    pkg = root / name
    (pkg / "DEBIAN").mkdir(parents=True)
    doc = pkg / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True)
    (doc / "README").write_text("Throwaway package built by the Breeze agent e2e tests.\n")
    (pkg / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Breeze Tests <tests@breeze.invalid>\nPriority: optional\n"
        "Section: misc\nDescription: Breeze agent e2e test package\n"
        " Installed and removed again by tests/integration/agent_e2e.\n"
    )
    deb = root / f"{name}.deb"
    sh("dpkg-deb", "--root-owner-group", "--build", str(pkg), str(deb))
    return deb


def _dpkg(*args: str) -> None:
    for attempt in range(10):  # another process may hold the dpkg lock for a moment
        proc = subprocess.run(["dpkg", *args], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return
        if "lock" not in proc.stderr or attempt == 9:
            raise AssertionError(f"dpkg {' '.join(args)} failed: {proc.stderr}")
        time.sleep(1)


def _software_changes(admin: httpx.Client, device_id: str, name: str) -> list[dict[str, Any]]:
    rows = all_pages(admin, f"/api/v1/devices/{device_id}/changes", category="software")
    return [r for r in rows if r["subject"] == name]


def test_installed_and_removed_package_appear_in_the_history(
    e2e_server: LiveServer,
    e2e_admin: httpx.Client,
    e2e_tenant: Tenant,
    agent: AgentProcess,
    tmp_path: Path,
) -> None:
    require_root("dpkg", "dpkg-deb", "dpkg-query")
    config = _running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    name = f"breeze-e2e-pkg-{uuid.uuid4().hex[:10]}"
    deb = _build_deb(tmp_path, name, "1.4.2-1")
    try:
        _dpkg("-i", str(deb))
        added = eventually(
            lambda: [
                c
                for c in _software_changes(e2e_admin, config.device_id, name)
                if c["change_type"] == "added"
            ],
            timeout=60,
            what=f"{name} added in the device's changes",
        )
        assert added[0]["new_value"]["version"] == "1.4.2-1"
        software = all_pages(e2e_admin, f"/api/v1/devices/{config.device_id}/software", q=name)
        assert [(s["name"], s["version"]) for s in software] == [(name, "1.4.2-1")]

        _dpkg("-r", name)
        eventually(
            lambda: [
                c
                for c in _software_changes(e2e_admin, config.device_id, name)
                if c["change_type"] == "removed"
            ],
            timeout=60,
            what=f"{name} removed in the device's changes",
        )
        software = all_pages(e2e_admin, f"/api/v1/devices/{config.device_id}/software", q=name)
        assert software == []
    finally:
        subprocess.run(["dpkg", "--purge", name], capture_output=True, check=False)
    assert re.search(r"inventory delta sent: .*software", agent.log())
    assert agent.stop() == 0


def test_stopped_agent_goes_offline_and_comes_back(
    e2e_server: LiveServer,
    e2e_admin: httpx.Client,
    e2e_tenant: Tenant,
    agent: AgentProcess,
) -> None:
    config = _running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    assert device(e2e_admin, config.device_id)["status"] == "online"
    assert agent.stop() == 0
    # 5 s interval x 1 missed beat, swept every 0.5 s
    eventually(
        lambda: device(e2e_admin, config.device_id)["status"] == "offline",
        timeout=30,
        what="the device to go offline",
    )
    agent.start()
    eventually(
        lambda: device(e2e_admin, config.device_id)["status"] == "online",
        timeout=30,
        what="the device to come back online",
    )
    listed = ok(e2e_admin.get("/api/v1/devices", params={"org_id": e2e_tenant.org["id"]}))
    assert [(d["id"], d["status"]) for d in listed["items"]] == [(config.device_id, "online")]


def test_decommissioned_device_stops_its_agent(
    e2e_server: LiveServer,
    e2e_admin: httpx.Client,
    e2e_tenant: Tenant,
    agent: AgentProcess,
) -> None:
    config = _running_agent(e2e_server, e2e_admin, e2e_tenant, agent)
    response = e2e_admin.delete(f"/api/v1/devices/{config.device_id}")
    assert response.status_code == 204, response.text
    code = agent.wait(timeout=60)  # the next heartbeat (1 s) gets 401
    assert code == EXIT_REVOKED, agent.log()
    assert "device was removed or its token revoked" in agent.log()
    # it stopped rather than retrying: no new beat moves last_seen_at
    seen = device(e2e_admin, config.device_id)["last_seen_at"]
    time.sleep(3)
    assert device(e2e_admin, config.device_id)["last_seen_at"] == seen
    status = agent.cli("status", "--json")
    assert "revoked" in status.stdout
    # a new run exits at once with the same code instead of spinning
    again = agent.cli("run")
    assert again.returncode == EXIT_REVOKED, again.stderr
