"""Collector scripts: a script naming output_field writes the last line of its output to
that custom field of the device it ran on (the device side played over the agent
protocol: heartbeat, ack, result)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Tenant, make_tenant, ok
from tests.integration.scripts.helpers import (
    FakeAgent,
    audit_rows,
    enroll_device,
    fields_of,
    make_script,
    script_body,
)


def make_field(api: httpx.Client, org_id: str, key: str, type_: str, **more: Any) -> None:
    body = {"org_id": org_id, "key": key, "name": key.title(), "type": type_, **more}
    ok(api.post("/api/v1/custom-fields", json=body), 201)


def values(api: httpx.Client, device_id: str) -> dict[str, Any]:
    rows = ok(api.get(f"/api/v1/devices/{device_id}/custom-fields"))
    return {r["key"]: r["value"] for r in rows if not r["is_default"]}


def run(api: httpx.Client, agent: FakeAgent, script_id: str, **result: Any) -> dict[str, Any]:
    """Execute on the device, play the agent, answer the stored command."""
    answer = ok(
        api.post(f"/api/v1/scripts/{script_id}/execute", json={"device_ids": [agent.device_id]}),
        201,
    )
    (execution,) = answer["executions"]
    handed = [c["id"] for c in agent.heartbeat()]
    assert execution["id"] in handed
    agent.ack(execution["id"])
    agent.result(execution["id"], **result)
    return ok(api.get(f"/api/v1/devices/{agent.device_id}/commands/{execution['id']}"))  # type: ignore[no-any-return]


class Org:
    def __init__(self, admin: httpx.Client) -> None:
        self.tenant: Tenant = make_tenant(admin)
        org = self.tenant.org["id"]
        make_field(admin, org, "ram_gb", "number")
        make_field(admin, org, "tier", "select", options=["Gold", "Silver"])
        make_field(admin, org, "patched", "boolean")
        self.agent = enroll_device(admin, self.tenant, hostname="collector")


@pytest.fixture
def org(admin: httpx.Client) -> Org:
    return Org(admin)


def test_output_field_must_exist_in_the_organization(admin: httpx.Client, org: Org) -> None:
    bad = admin.post("/api/v1/scripts", json=script_body(org.tenant, output_field="nonexistent"))
    assert fields_of(bad) == ["output_field"]
    script = make_script(admin, org.tenant, output_field="ram_gb")
    assert script["output_field"] == "ram_gb"
    patch = admin.patch(f"/api/v1/scripts/{script['id']}", json={"output_field": "nope"})
    assert fields_of(patch) == ["output_field"]
    cleared = ok(admin.patch(f"/api/v1/scripts/{script['id']}", json={"output_field": None}))
    assert cleared["output_field"] is None and cleared["version"] == 2
    v1 = ok(admin.get(f"/api/v1/scripts/{script['id']}/versions/1"))
    assert v1["output_field"] == "ram_gb"


def test_a_completed_run_sets_the_field(admin: httpx.Client, org: Org) -> None:
    script = make_script(admin, org.tenant, output_field="ram_gb")
    cmd = run(admin, org.agent, script["id"], stdout="checking memory...\n  16 \n\n")
    assert cmd["status"] == "completed"
    assert cmd["result_details"]["collector_value"] == 16
    assert "collector_error" not in cmd["result_details"]
    assert values(admin, org.agent.device_id)["ram_gb"] == 16
    (row,) = audit_rows(
        admin, action="device.custom_fields.update", resource_id=org.agent.device_id
    )
    assert row["actor_type"] == "system" and row["details"]["source"] == "script"
    assert row["details"]["changes"] == {"ram_gb": [None, 16]}


def test_a_bad_value_leaves_the_field_and_says_why(admin: httpx.Client, org: Org) -> None:
    script = make_script(admin, org.tenant, output_field="ram_gb")
    run(admin, org.agent, script["id"], stdout="32\n")
    cmd = run(admin, org.agent, script["id"], stdout="thirty-two gigabytes\n")
    assert cmd["status"] == "completed" and cmd["stdout"] == "thirty-two gigabytes\n"
    assert "not a number" in cmd["result_details"]["collector_error"]
    assert values(admin, org.agent.device_id)["ram_gb"] == 32
    # A failed run writes nothing either, and says so.
    failed = run(admin, org.agent, script["id"], status="failed", exit_code=2, stdout="7\n")
    assert "did not succeed" in failed["result_details"]["collector_error"]
    empty = run(admin, org.agent, script["id"], stdout="\n  \n")
    assert "printed nothing" in empty["result_details"]["collector_error"]
    assert values(admin, org.agent.device_id)["ram_gb"] == 32


def test_types_are_converted(admin: httpx.Client, org: Org) -> None:
    tier = make_script(admin, org.tenant, output_field="tier")
    patched = make_script(admin, org.tenant, output_field="patched")
    assert (
        run(admin, org.agent, tier["id"], stdout="gold\n")["result_details"]["collector_value"]
        == "Gold"
    )
    bad = run(admin, org.agent, tier["id"], stdout="Bronze\n")
    assert "Gold, Silver" in bad["result_details"]["collector_error"]
    run(admin, org.agent, patched["id"], stdout="yes\n")
    assert values(admin, org.agent.device_id) == {"tier": "Gold", "patched": True}


def test_partner_wide_script_checks_the_field_at_run_time(admin: httpx.Client, org: Org) -> None:
    wide = make_script(
        admin, org.tenant, org_id=None, partner_id=org.tenant.partner["id"], output_field="tier"
    )
    assert wide["org_id"] is None and wide["output_field"] == "tier"
    cmd = run(admin, org.agent, wide["id"], stdout="Silver\n")
    assert values(admin, org.agent.device_id)["tier"] == "Silver"
    assert cmd["result_details"]["collector_field"] == "tier"
    # A device of an organization without that field: the run is stored, the reason given.
    other = make_tenant(admin)
    stranger = enroll_device(admin, other, hostname="no-fields")
    wide2 = make_script(
        admin, other, org_id=None, partner_id=other.partner["id"], output_field="tier"
    )
    lost = run(admin, stranger, wide2["id"], stdout="Gold\n")
    assert lost["status"] == "completed"
    assert "no custom field 'tier'" in lost["result_details"]["collector_error"]
