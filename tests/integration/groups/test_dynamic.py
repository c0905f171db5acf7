"""Dynamic groups: membership from rules, re-evaluation on rule edits and on inventory
uploads (over the agent protocol), preview, predefined groups, scripts on groups."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.factories import Tenant, make_tenant, ok
from tests.integration.devices.agents import Agent, enroll, inventory, real_inventory
from tests.integration.groups.helpers import (
    GROUPS,
    dynamic,
    error_fields,
    make_group,
    member_ids,
    members,
)
from tests.integration.scripts.helpers import enroll_device, make_script
from tests.support.server import LiveServer

PKG = "breeze-groups-probe"


def eventually(probe: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def with_package(version: str | None) -> dict[str, Any]:
    """This machine's inventory, collected now, with (or without) the probe package."""
    software = dict(real_inventory()["software"])
    items = [i for i in software["items"] if i["name"] != PKG]
    if version is not None:
        items.append({**items[0], "name": PKG, "version": version})
    software["items"] = items
    return inventory(software=software, collected_at=datetime.now(UTC).isoformat())


def test_rules_pick_devices_and_follow_edits(admin: httpx.Client, tenant: Tenant) -> None:
    alpha = enroll_device(admin, tenant, hostname="web-alpha")
    bravo = enroll_device(admin, tenant, hostname="web-bravo")
    windy = enroll_device(admin, tenant, hostname="db-windy", os_type="windows")
    enroll_device(admin, make_tenant(admin), hostname="web-elsewhere")
    web = dynamic(
        admin, tenant, {"all": [{"field": "hostname", "op": "starts_with", "value": "WEB-"}]}
    )
    assert web["member_count"] == 2 and web["evaluated_at"]
    assert member_ids(admin, web["id"]) == {alpha.device_id, bravo.device_id}
    assert {m["added_by"] for m in members(admin, web["id"])} == {"dynamic_rule"}

    linux_only = {"all": [{"field": "os_type", "op": "in", "value": ["linux"]}]}
    assert ok(admin.patch(f"{GROUPS}/{web['id']}", json={"rules": linux_only}))["member_count"] == 2
    not_linux = {"not": {"field": "os_type", "op": "eq", "value": "linux"}}
    ok(admin.patch(f"{GROUPS}/{web['id']}", json={"rules": not_linux}))
    assert member_ids(admin, web["id"]) == {windy.device_id}

    # A dynamic child holds only what its parent holds.
    parent = make_group(admin, tenant)
    ok(admin.post(f"{GROUPS}/{parent['id']}/members", json={"device_ids": [alpha.device_id]}))
    child = dynamic(admin, tenant, {"all": []}, parent_id=parent["id"])
    assert member_ids(admin, child["id"]) == {alpha.device_id}
    ok(admin.post(f"{GROUPS}/{parent['id']}/members", json={"device_ids": [bravo.device_id]}))
    assert member_ids(admin, child["id"]) == {alpha.device_id, bravo.device_id}
    # A rule naming another group, and the cycle it may not close.
    named = dynamic(admin, tenant, {"all": [{"field": "group", "op": "eq", "value": child["id"]}]})
    assert member_ids(admin, named["id"]) == {alpha.device_id, bravo.device_id}
    loop = {"all": [{"field": "group", "op": "eq", "value": named["id"]}]}
    assert error_fields(admin.patch(f"{GROUPS}/{child['id']}", json={"rules": loop})) == ["rules"]
    assert error_fields(admin.delete(f"{GROUPS}/{child['id']}"), 409) == ["group_id"]


def test_inventory_changes_membership(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent: Agent = enroll(server, admin, tenant)
    rules = {
        "all": [
            {"field": "os_type", "op": "eq", "value": "linux"},
            {
                "field": "software",
                "op": "installed",
                "name": PKG,
                "version_op": ">=",
                "version": "2.10",
            },
        ]
    }
    group = dynamic(admin, tenant, rules)
    assert member_ids(admin, group["id"]) == set()
    agent.send(with_package("2.9.1"))  # 2.9 < 2.10: not yet
    time.sleep(0.5)
    assert member_ids(admin, group["id"]) == set()
    agent.send(with_package("2.10.0"))
    eventually(lambda: member_ids(admin, group["id"]) == {agent.device_id})
    agent.send(with_package(None))
    eventually(lambda: member_ids(admin, group["id"]) == set())


def test_preview(admin: httpx.Client, tenant: Tenant) -> None:
    site_device = enroll_device(admin, tenant, hostname="pv-one")
    enroll_device(admin, tenant, hostname="pv-two", os_type="windows")
    body: dict[str, Any] = {
        "org_id": tenant.org["id"],
        "rules": {"any": [{"field": "hostname", "op": "contains", "value": "PV-"}]},
        "per_page": 1,
    }
    answer = ok(admin.post(f"{GROUPS}/preview", json=body))
    assert answer["total"] == 2 and [d["hostname"] for d in answer["items"]] == ["pv-one"]
    assert answer["rules"]["any"][0]["value"] == "pv-"
    narrowed = ok(admin.post(f"{GROUPS}/preview", json={**body, "site_id": tenant.site["id"]}))
    assert narrowed["items"][0]["id"] == site_device.device_id
    bad = {**body, "rules": {"any": [{"field": "ram_total_mb", "op": "gt", "value": "8GB"}]}}
    assert error_fields(admin.post(f"{GROUPS}/preview", json=bad)) == ["rules.any.0.value"]
    groups = ok(admin.get(GROUPS, params={"org_id": tenant.org["id"], "per_page": 200}))
    assert all(g["predefined"] for g in groups["items"])  # nothing was saved


def test_predefined_groups(admin: httpx.Client, tenant: Tenant) -> None:
    linux = enroll_device(admin, tenant)
    windows = enroll_device(admin, tenant, os_type="windows")
    listed = ok(admin.get(GROUPS, params={"org_id": tenant.org["id"], "per_page": 200}))["items"]
    by_key = {g["predefined"]: g for g in listed if g["predefined"]}
    assert set(by_key) == {"windows", "linux", "macos", "servers", "offline_7d"}
    assert by_key["linux"]["name"] == "Linux" and by_key["linux"]["type"] == "dynamic"
    assert member_ids(admin, by_key["linux"]["id"]) == {linux.device_id}
    assert member_ids(admin, by_key["windows"]["id"]) == {windows.device_id}
    assert member_ids(admin, by_key["offline_7d"]["id"]) == set()
    again = ok(admin.get(GROUPS, params={"org_id": tenant.org["id"], "per_page": 200}))["items"]
    assert len(again) == len(listed)  # created once
    gid = by_key["macos"]["id"]
    assert error_fields(admin.delete(f"{GROUPS}/{gid}"), 409) == ["group_id"]
    patch = admin.patch(f"{GROUPS}/{gid}", json={"rules": {"all": []}})
    assert error_fields(patch, 409) == ["group_id"]
    assert ok(admin.patch(f"{GROUPS}/{gid}", json={"name": "Apple"}))["name"] == "Apple"


def test_scripts_run_on_group_members(admin: httpx.Client, tenant: Tenant) -> None:
    a = enroll_device(admin, tenant, hostname="grp-a")
    enroll_device(admin, tenant, hostname="grp-b")
    win = enroll_device(admin, tenant, hostname="grp-win", os_type="windows")
    group = make_group(admin, tenant)
    ok(
        admin.post(
            f"{GROUPS}/{group['id']}/members", json={"device_ids": [a.device_id, win.device_id]}
        )
    )
    script = make_script(admin, tenant)
    run = admin.post(f"/api/v1/scripts/{script['id']}/execute", json={"group_ids": [group["id"]]})
    answer = ok(run, 201)
    assert [e["device_id"] for e in answer["executions"]] == [a.device_id]
    assert [s["device_id"] for s in answer["skipped"]] == [win.device_id]
    assert answer["batch"]["targets"]["group_ids"] == [group["id"]]
    unknown = {"group_ids": ["00000000-0000-0000-0000-000000000000"]}
    missing = admin.post(f"/api/v1/scripts/{script['id']}/execute", json=unknown)
    assert error_fields(missing, 404) == ["group_ids"]
