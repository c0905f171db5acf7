"""A real agent process reports this machine to a real server: the console API shows the
operating system's own answers (os.cpu_count, MemTotal, dpkg-query, ip -j addr)."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime

import httpx

from breeze_agent.config import state_path
from breeze_agent.state import load_state
from tests.agent.helpers import meminfo_kb, require_tools, sh
from tests.factories import Tenant
from tests.integration.agent_e2e.conftest import (
    AgentProcess,
    all_pages,
    device,
    enrollment_key,
    eventually,
)
from tests.support.server import LiveServer


def _dpkg_installed() -> set[tuple[str, str]]:
    out = sh("dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\n")
    rows = [line.split("\t") for line in out.splitlines()]
    return {(name, version) for status, name, version in rows if status[1:2] == "i"}


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_agent_reports_this_machine(
    e2e_server: LiveServer,
    e2e_admin: httpx.Client,
    e2e_tenant: Tenant,
    agent: AgentProcess,
) -> None:
    require_tools("dpkg-query", "ip")  # the OS's own answers to compare with
    key = enrollment_key(e2e_admin, e2e_tenant.org["id"])
    config = agent.enroll(e2e_server.url, key)
    assert oct(agent.config_path.stat().st_mode & 0o777) == "0o600"
    dev = device(e2e_admin, config.device_id)
    assert dev["agent_id"] == config.agent_id and dev["org_id"] == e2e_tenant.org["id"]
    assert dev["hostname"] == socket.gethostname()
    # enrollment sent the full inventory already
    assert load_state(state_path(agent.config_path)).full_inventory_sent

    agent.start()
    first = eventually(
        lambda: device(e2e_admin, config.device_id)["last_seen_at"], what="a first heartbeat"
    )
    eventually(
        lambda: _ts(device(e2e_admin, config.device_id)["last_seen_at"]) > _ts(first),
        what="last_seen_at to move",
    )
    assert device(e2e_admin, config.device_id)["status"] == "online"

    def points() -> list[dict[str, object]]:
        body = e2e_admin.get(f"/api/v1/devices/{config.device_id}/metrics").json()
        return body["points"] if len(body.get("points", [])) >= 2 else []

    sample = eventually(points, what="two metric points")[-1]
    assert 0 <= float(str(sample["cpu_percent"])) <= 100
    assert int(str(sample["process_count"])) > 0
    assert int(str(sample["ram_used_mb"])) > 0

    hardware = e2e_admin.get(f"/api/v1/devices/{config.device_id}/hardware").json()
    assert hardware["cpu_threads"] == os.cpu_count()
    assert hardware["ram_total_mb"] == meminfo_kb("MemTotal") // 1024

    for _ in range(3):  # something may install a package meanwhile
        expected = _dpkg_installed()
        items = all_pages(e2e_admin, f"/api/v1/devices/{config.device_id}/software")
        listed = {(i["name"], i["version"]) for i in items if i["source"] == "dpkg"}
        if listed == expected:
            break
    assert listed == expected

    ip = json.loads(sh("ip", "-j", "addr"))
    network = e2e_admin.get(f"/api/v1/devices/{config.device_id}/network").json()
    by_name = {i["interface_name"]: i for i in network["interfaces"]}
    assert set(by_name) == {link["ifname"] for link in ip}
    for link in ip:
        reported = {a["ip_address"] for a in by_name[link["ifname"]]["addresses"]}
        assert reported == {a["local"] for a in link.get("addr_info", [])}

    status = agent.cli("status", "--json")
    info = json.loads(status.stdout)
    assert info["device_id"] == config.device_id and info["last_heartbeat_result"] == "ok"
    assert config.auth_token not in status.stdout
    assert agent.stop() == 0, agent.log()
