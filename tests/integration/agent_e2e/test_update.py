"""Agent self-update against a real server: ``update_agent`` for a release an operator
dropped into ``<data_dir>/agent-releases/`` (the real agent's sources with a bumped
version) turns the running agent into that version, and a release that cannot even be
imported is rolled back (the command fails, the device keeps its version).

The agent runs under its real supervisor (``breeze-agent run``); it beats every second and
a new version must confirm within a few seconds.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from breeze.installer.wheels import AGENT_DIST, agent_requirements, agent_sources, write_wheel
from breeze_agent import __version__
from breeze_agent.config import load_config, state_path
from breeze_agent.state import load_state
from breeze_agent.update import ENV_CONFIRM_SECONDS
from tests.factories import Tenant, ok
from tests.integration.agent_e2e.conftest import (
    AgentProcess,
    device,
    enrollment_key,
    eventually,
)
from tests.support.server import LiveServer

FINAL = {"completed", "failed", "timeout", "cancelled"}


def release(data_dir: Path, version: str, *, broken: bool = False) -> Path:
    """A breeze-agent wheel of this checkout's agent, as ``version``, in agent-releases/."""
    files: list[tuple[str, bytes]] = []
    for name, path in agent_sources():
        data = path.read_bytes()
        if name == "breeze_agent/__init__.py":
            text = data.decode().replace(f'"{__version__}"', f'"{version}"')
            assert version in text
            if broken:
                text += 'raise RuntimeError("this release is broken")\n'
            data = text.encode()
        files.append((name, data))
    dist_info = f"breeze_agent-{version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {AGENT_DIST}",
        f"Version: {version}",
        "Requires-Python: >=3.11",
        *(f"Requires-Dist: {r}" for r in agent_requirements()),
    ]
    files.append((f"{dist_info}/METADATA", ("\n".join(metadata) + "\n").encode()))
    wheel = (
        "Wheel-Version: 1.0\nGenerator: breeze-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files.append((f"{dist_info}/WHEEL", wheel.encode()))
    target = data_dir / "agent-releases" / f"breeze_agent-{version}-py3-none-any.whl"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_wheel(target, files, dist_info)
    return target


def new_version() -> str:
    return f"{__version__}.post{secrets.randbelow(10**8)}"


def queue_update(admin: httpx.Client, device_id: str, version: str) -> dict[str, Any]:
    body = {"type": "update_agent", "payload": {"version": version}}
    return ok(admin.post(f"/api/v1/devices/{device_id}/commands", json=body), 201)  # type: ignore[no-any-return]


def final_command(admin: httpx.Client, device_id: str, command_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        cmd: dict[str, Any] = ok(admin.get(f"/api/v1/devices/{device_id}/commands/{command_id}"))
        return cmd if cmd["status"] in FINAL else None

    return eventually(probe, timeout=60, what=f"command {command_id} to finish")


@pytest.fixture
def running(
    e2e_server: LiveServer, e2e_admin: httpx.Client, e2e_tenant: Tenant, agent: AgentProcess
) -> tuple[AgentProcess, str]:
    config = agent.enroll(e2e_server.url, enrollment_key(e2e_admin, e2e_tenant.org["id"]))
    agent.env[ENV_CONFIRM_SECONDS] = "20"
    agent.start()
    state = state_path(agent.config_path)
    eventually(lambda: load_state(state).last_heartbeat_ok, what="a first accepted heartbeat")
    return agent, config.device_id


def test_update_agent_installs_the_release_and_the_device_reports_it(
    e2e_server: LiveServer, e2e_admin: httpx.Client, running: tuple[AgentProcess, str]
) -> None:
    agent, device_id = running
    version = new_version()
    release(e2e_server.data_dir, version)
    queued = queue_update(e2e_admin, device_id, version)
    assert queued["payload"]["version"] == version
    assert queued["payload"]["url"].startswith("/api/v1/agents/releases/")
    done = final_command(e2e_admin, device_id, queued["id"])
    assert done["status"] == "completed", (done, agent.log()[-3000:])
    assert done["result_details"]["version"] == version
    eventually(
        lambda: device(e2e_admin, device_id)["agent_version"] == version,
        what=f"agent_version {version}",
    )
    assert agent.proc is not None and agent.proc.poll() is None  # same supervisor, new child
    status = json.loads(agent.cli("status", "--json").stdout)
    assert (status["agent_version"], status["last_update"]["state"]) == (version, "confirmed")
    assert agent.stop() == 0


def test_a_release_that_cannot_start_is_rolled_back(
    e2e_server: LiveServer, e2e_admin: httpx.Client, running: tuple[AgentProcess, str]
) -> None:
    agent, device_id = running
    before = device(e2e_admin, device_id)["agent_version"]
    version = new_version()
    release(e2e_server.data_dir, version, broken=True)
    queued = queue_update(e2e_admin, device_id, version)
    done = final_command(e2e_admin, device_id, queued["id"])
    assert done["status"] == "failed", (done, agent.log()[-3000:])
    assert "rolled back" in done["error"] and version in done["error"], done["error"]
    assert done["result_details"]["version"] == before
    state = state_path(agent.config_path)
    eventually(lambda: load_state(state).last_heartbeat_ok, what="the old version beating")
    assert device(e2e_admin, device_id)["agent_version"] == before
    assert agent.proc is not None and agent.proc.poll() is None
    assert agent.stop() == 0


def test_unknown_or_damaged_releases_are_refused_and_no_version_means_the_servers(
    e2e_server: LiveServer, e2e_admin: httpx.Client, running: tuple[AgentProcess, str]
) -> None:
    _, device_id = running
    url = f"/api/v1/devices/{device_id}/commands"
    body: dict[str, Any] = {"type": "update_agent", "payload": {"version": "0.0.0-nowhere"}}
    answer = e2e_admin.post(url, json=body)
    assert answer.status_code == 422 and "payload.version" in answer.text, answer.text
    damaged = new_version()
    drop = e2e_server.data_dir / "agent-releases" / f"breeze_agent-{damaged}-py3-none-any.whl"
    drop.parent.mkdir(parents=True, exist_ok=True)
    drop.write_bytes(b"not a zip")
    answer = e2e_admin.post(url, json={**body, "payload": {"version": damaged}})
    assert answer.status_code == 422 and "not a readable wheel" in answer.text, answer.text

    queued = ok(e2e_admin.post(url, json={"type": "update_agent", "payload": {}}), 201)
    assert queued["payload"]["version"] == __version__  # the agent this server carries
    done = final_command(e2e_admin, device_id, queued["id"])
    assert done["status"] == "completed", done
    assert done["result_details"] == {"version": __version__, "unchanged": True}


def test_release_files_need_an_agent_token_and_serve_only_releases(
    e2e_server: LiveServer, running: tuple[AgentProcess, str]
) -> None:
    agent, _ = running
    name = f"breeze_agent-{__version__}-py3-none-any.whl"
    url = f"/api/v1/agents/releases/{name}"
    token = load_config(agent.config_path).auth_token
    with httpx.Client(base_url=e2e_server.url) as c:
        assert c.get(url).status_code == 401
        assert (
            c.get(url, headers={"Authorization": "Bearer brz_agt_not-a-token"}).status_code == 401
        )
        c.headers["Authorization"] = f"Bearer {token}"
        wheel = c.get(url)
        assert wheel.status_code == 200 and wheel.content[:2] == b"PK"
        for other in ("breeze_agent-9.9.9-py3-none-any.whl", "psutil-5.9.0-cp311-none-any.whl"):
            assert c.get(f"/api/v1/agents/releases/{other}").status_code == 404
        assert c.get("/api/v1/agents/releases/..%2Fsecret.key.whl").status_code in (404, 422)
