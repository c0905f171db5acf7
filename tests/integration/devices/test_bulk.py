"""Bulk actions: per-device results, exactly one audit row, permissions at each device's
place, other tenants' devices reported not found and left alone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import make_member, make_site, make_tenant, ok, unique
from tests.integration.agents.helpers import beat
from tests.integration.devices.agents import Agent, enroll
from tests.integration.devices.selection import audit_rows, device_ids, problem_fields
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


class Fleet:
    def __init__(self, server: LiveServer, admin: httpx.Client, mailbox: Mailbox) -> None:
        self.tenant = make_tenant(admin)
        self.org = self.tenant.org["id"]
        self.site2 = make_site(admin, self.org)
        self.agents = [enroll(server, admin, self.tenant) for _ in range(4)]
        self.ids = [a.device_id for a in self.agents]
        foreign = make_tenant(admin)
        self.foreign = enroll(server, admin, foreign)
        self.viewer = make_member(admin, mailbox, role="Org Viewer", org_id=self.org)
        self.manager = make_member(admin, mailbox, role="Org Admin", org_id=self.org)


@pytest.fixture(scope="module")
def fleet(server: LiveServer, admin: httpx.Client, mailbox: Mailbox) -> Fleet:
    return Fleet(server, admin, mailbox)


def bulk(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return api.post("/api/v1/devices/bulk", json=body)


def tags_of(api: httpx.Client, device_id: str) -> list[str]:
    return ok(api.get(f"/api/v1/devices/{device_id}"))["tags"]  # type: ignore[no-any-return]


def one_new_row(api: httpx.Client, action: str, before: int, **params: Any) -> dict[str, Any]:
    rows = audit_rows(api, action, **params)
    assert len(rows) == before + 1, rows
    return rows[0]


def test_tag_and_untag_write_one_audit_row(fleet: Fleet, admin: httpx.Client) -> None:
    org, (a, b, c, _) = fleet.org, fleet.ids
    label = unique("Batch").lower()
    before = len(audit_rows(admin, "device.bulk.tag", org_id=org))
    updates = len(audit_rows(admin, "device.update", org_id=org))
    body = ok(
        bulk(
            fleet.manager,
            {
                "action": "tag",
                "target": {"device_ids": [a, b, c, fleet.foreign.device_id]},
                "tags": [label.upper(), " Extra "],
            },
        )
    )
    assert (body["total"], body["succeeded"], body["failed"]) == (4, 3, 1)
    results = {r["device_id"]: r for r in body["results"]}
    assert all(results[i]["ok"] for i in (a, b, c))
    assert results[fleet.foreign.device_id]["status"] == 404
    assert tags_of(admin, fleet.foreign.device_id) == []  # the other tenant's: untouched
    assert set(tags_of(admin, a)) >= {label, "extra"}
    row = one_new_row(admin, "device.bulk.tag", before, org_id=org)
    assert row["details"]["counts"] == {"total": 4, "succeeded": 3, "failed": 1}
    assert len(row["details"]["results"]) == 4 and row["details"]["tags"] == [label, "extra"]
    assert len(audit_rows(admin, "device.update", org_id=org)) == updates  # none per device
    before = len(audit_rows(admin, "device.bulk.untag", org_id=org))
    body = ok(
        bulk(
            admin,
            {
                "action": "untag",
                "target": {"filter": {"org_id": org, "tag": label}},
                "tags": [label],
            },
        )
    )
    assert {r["device_id"] for r in body["results"]} == {a, b, c}
    assert all(r["ok"] for r in body["results"])
    assert device_ids(admin, org_id=org, tag=label) == set()
    assert "extra" in tags_of(admin, a)
    one_new_row(admin, "device.bulk.untag", before, org_id=org)


def test_move_site_checks_each_device(fleet: Fleet, admin: httpx.Client) -> None:
    org, (a, b, _, _) = fleet.org, fleet.ids
    site = fleet.site2["id"]
    before = len(audit_rows(admin, "device.bulk.move_site", org_id=org))
    body = ok(
        bulk(
            admin,
            {"action": "move_site", "target": {"device_ids": [a, b]}, "site_id": site},
        )
    )
    assert body["succeeded"] == 2
    assert device_ids(admin, org_id=org, site_id=site) == {a, b}
    one_new_row(admin, "device.bulk.move_site", before, org_id=org)
    # A site of another organization: every device refuses it, nothing moves.
    elsewhere = make_tenant(admin).site["id"]
    body = ok(
        bulk(admin, {"action": "move_site", "target": {"device_ids": [a]}, "site_id": elsewhere})
    )
    assert body["failed"] == 1 and body["results"][0]["status"] == 422
    assert device_ids(admin, org_id=org, site_id=site) == {a, b}


def test_a_viewer_gets_403_per_device_and_changes_nothing(
    fleet: Fleet, admin: httpx.Client
) -> None:
    a, b = fleet.ids[:2]
    before = tags_of(admin, a)
    body = ok(
        bulk(fleet.viewer, {"action": "tag", "target": {"device_ids": [a, b]}, "tags": ["nope"]})
    )
    assert body["succeeded"] == 0 and {r["status"] for r in body["results"]} == {403}
    assert tags_of(admin, a) == before
    r = bulk(
        fleet.viewer,
        {"action": "tag", "target": {"device_ids": [fleet.foreign.device_id]}, "tags": ["x"]},
    )
    assert ok(r)["results"][0]["status"] == 404


def test_bad_requests(fleet: Fleet, admin: httpx.Client) -> None:
    a = fleet.ids[0]
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"action": "tag", "target": {"device_ids": [a]}}, ["tags"]),
        ({"action": "move_site", "target": {"device_ids": [a]}}, ["site_id"]),
        ({"action": "run_script", "target": {"device_ids": [a]}}, ["script_id"]),
        ({"action": "decommission", "target": {"device_ids": [a]}}, ["confirm"]),
        ({"action": "tag", "target": {}, "tags": ["x"]}, ["target"]),
        (
            {"action": "tag", "target": {"device_ids": [a], "group_id": a}, "tags": ["x"]},
            ["target"],
        ),
        ({"action": "tag", "target": {"filter": {}}, "tags": ["x"]}, ["target.filter"]),
        (
            {"action": "tag", "target": {"filter": {"nope": 1}}, "tags": ["x"]},
            ["target.filter.nope"],
        ),
        (
            {"action": "tag", "target": {"filter": {"org_id": "x"}}, "tags": ["x"]},
            ["target.filter.org_id"],
        ),
        ({"action": "explode", "target": {"device_ids": [a]}}, ["action"]),
    ]
    for body, where in cases:
        fields = problem_fields(bulk(admin, body))
        assert [f.removeprefix("body.") for f in fields] == where, body
    empty = {
        "action": "tag",
        "target": {"filter": {"org_id": fleet.org, "tag": "no-such"}},
        "tags": ["x"],
    }
    assert problem_fields(bulk(admin, empty)) == ["target"]
    missing_group = {"action": "tag", "target": {"group_id": fleet.org}, "tags": ["x"]}
    assert bulk(admin, missing_group).status_code == 404


def test_run_script_launches_one_batch(fleet: Fleet, admin: httpx.Client) -> None:
    org, (a, b, _, _) = fleet.org, fleet.ids
    script = ok(
        admin.post(
            "/api/v1/scripts",
            json={
                "name": unique("script"),
                "org_id": org,
                "os_types": ["linux"],
                "language": "bash",
                "content": "echo hi\n",
            },
        ),
        201,
    )
    before = len(audit_rows(admin, "device.bulk.run_script", org_id=org))
    executes_before = len(audit_rows(admin, "script.execute", org_id=org))
    body = ok(
        bulk(
            fleet.manager,
            {
                "action": "run_script",
                "target": {"device_ids": [a, b, fleet.foreign.device_id]},
                "script_id": script["id"],
            },
        )
    )
    assert body["succeeded"] == 2 and body["batch_id"]
    ran = {r["device_id"]: r for r in body["results"] if r["ok"]}
    assert set(ran) == {a, b} and all(r["execution_id"] for r in ran.values())
    execution = ok(admin.get(f"/api/v1/script-executions/{ran[a]['execution_id']}"))
    assert execution["device_id"] == a
    row = one_new_row(admin, "device.bulk.run_script", before, org_id=org)
    assert row["details"]["batch_id"] == body["batch_id"]
    assert len(audit_rows(admin, "script.execute", org_id=org)) == executes_before  # one row
    bad = {"action": "run_script", "target": {"device_ids": [a]}, "script_id": fleet.org}
    assert bulk(admin, bad).status_code == 404


def test_decommission_needs_confirm_and_revokes_tokens(fleet: Fleet, admin: httpx.Client) -> None:
    org, agent = fleet.org, fleet.agents[3]
    before = len(audit_rows(admin, "device.bulk.decommission", org_id=org))
    decommissions = len(audit_rows(admin, "device.decommission", org_id=org))
    body = ok(
        bulk(
            admin,
            {
                "action": "decommission",
                "target": {"device_ids": [agent.device_id]},
                "confirm": True,
            },
        )
    )
    assert body["succeeded"] == 1
    assert agent.device_id not in device_ids(admin, org_id=org)
    assert beat(agent.base_url, _wire(agent)).status_code == 401
    one_new_row(admin, "device.bulk.decommission", before, org_id=org)
    assert len(audit_rows(admin, "device.decommission", org_id=org)) == decommissions
    # A decommissioned device can no longer be tagged: its result says why.
    body = ok(
        bulk(admin, {"action": "tag", "target": {"device_ids": [agent.device_id]}, "tags": ["x"]})
    )
    assert body["results"][0]["status"] == 409


def _wire(agent: Agent) -> dict[str, str]:
    return {"agent_id": agent.agent_id, "auth_token": agent.token}
