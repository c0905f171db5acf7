"""The real agent's device lands in dynamic groups whose rules name this machine's real
packages (read with dpkg-query), as soon as its inventory arrives."""

from __future__ import annotations

import httpx

from tests.agent.helpers import require_tools, sh
from tests.factories import Tenant, ok, unique
from tests.integration.agent_e2e.conftest import AgentProcess, enrollment_key, eventually
from tests.support.server import LiveServer

GROUPS = "/api/v1/device-groups"
PACKAGE = "coreutils"  # Essential on every Debian/Ubuntu system


def _group(admin: httpx.Client, tenant: Tenant, *leaves: dict[str, object]) -> str:
    body = {
        "org_id": tenant.org["id"],
        "name": unique("group"),
        "type": "dynamic",
        "rules": {"all": [{"field": "os_type", "op": "eq", "value": "linux"}, *leaves]},
    }
    return str(ok(admin.post(GROUPS, json=body), 201)["id"])


def _members(admin: httpx.Client, group_id: str) -> set[str]:
    items = ok(admin.get(f"{GROUPS}/{group_id}/members", params={"per_page": 200}))["items"]
    return {m["device_id"] for m in items}


def test_dynamic_group_holds_the_real_device(
    e2e_server: LiveServer,
    e2e_admin: httpx.Client,
    e2e_tenant: Tenant,
    agent: AgentProcess,
) -> None:
    require_tools("dpkg-query")
    version = sh("dpkg-query", "-W", "-f=${Version}", PACKAGE).strip()
    assert version, f"{PACKAGE} is not installed"
    installed = {"field": "software", "op": "installed", "name": PACKAGE.upper()}
    # Groups first: the device joins them when its inventory arrives, not when they are made.
    same = _group(e2e_admin, e2e_tenant, {**installed, "version_op": ">=", "version": version})
    newer = _group(e2e_admin, e2e_tenant, {**installed, "version_op": ">", "version": version})
    missing = _group(
        e2e_admin,
        e2e_tenant,
        {"field": "software", "op": "installed", "name": "no-such-package-" + unique("x")},
    )
    config = agent.enroll(e2e_server.url, enrollment_key(e2e_admin, e2e_tenant.org["id"]))
    agent.start()
    eventually(lambda: config.device_id in _members(e2e_admin, same), what="group membership")
    assert _members(e2e_admin, newer) == set()
    assert _members(e2e_admin, missing) == set()
    listed = ok(e2e_admin.get(GROUPS, params={"org_id": e2e_tenant.org["id"], "per_page": 200}))
    linux = next(g for g in listed["items"] if g["predefined"] == "linux")
    assert config.device_id in _members(e2e_admin, linux["id"])
    members = ok(e2e_admin.get(f"{GROUPS}/{same}/members"))["items"]
    assert members[0]["added_by"] == "dynamic_rule"
