"""Running scripts: targets, parameters, secrets, batches, executions, rerun and cancel.

The device side is played over the real agent protocol (heartbeat, ack, result), which
shows exactly what a device is handed; the real agent runs scripts in agent_e2e.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.factories import Tenant, make_member, make_site, make_tenant, ok
from tests.integration.scripts.helpers import (
    SECRET_SCHEMA,
    audit_rows,
    enroll_device,
    fields_of,
    make_script,
)
from tests.support.mailbox import Mailbox

SECRET = "s3cr3t-Value-91x"


def execute(api: httpx.Client, script_id: str, **body: Any) -> httpx.Response:
    return api.post(f"/api/v1/scripts/{script_id}/execute", json=body)


def executions(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("per_page", 200)
    return ok(api.get("/api/v1/script-executions", params=params))["items"]  # type: ignore[no-any-return]


class Fleet:
    """Two Linux devices on two sites and a Windows device, in one organization."""

    def __init__(self, admin: httpx.Client) -> None:
        self.tenant = make_tenant(admin)
        self.site2 = make_site(admin, self.tenant.org["id"])
        self.a = enroll_device(admin, self.tenant, hostname="alpha")
        self.b = enroll_device(admin, self.tenant, site=self.site2, hostname="bravo")
        self.win = enroll_device(admin, self.tenant, os_type="windows", hostname="windy")
        self.script = make_script(admin, self.tenant, parameters=SECRET_SCHEMA)


@pytest.fixture
def fleet(admin: httpx.Client) -> Fleet:
    return Fleet(admin)


def test_execute_on_a_device_with_parameters_and_a_secret(
    admin: httpx.Client, fleet: Fleet
) -> None:
    sid = fleet.script["id"]
    answer = ok(
        execute(
            admin,
            sid,
            device_ids=[fleet.a.device_id],
            parameters={"COUNT": 3, "API_TOKEN": SECRET},
        ),
        201,
    )
    batch, (run,) = answer["batch"], answer["executions"]
    assert answer["skipped"] == []
    assert batch["total"] == 1 and batch["script_version"] == 1
    assert batch["org_id"] == fleet.tenant.org["id"]
    assert batch["parameters"] == {
        "GREETING": "hello",
        "COUNT": 3,
        "LOUD": False,
        "API_TOKEN": "********",
    }
    assert batch["progress"]["pending"] == 1 and batch["status"] == "running"
    assert run["device_id"] == fleet.a.device_id and run["device_name"] == "alpha"
    assert (run["script_name"], run["status"]) == (fleet.script["name"], "pending")

    (envelope,) = fleet.a.heartbeat()
    assert envelope["id"] == run["id"] and envelope["type"] == "script"
    payload = envelope["payload"]
    assert payload["env"] == {
        "GREETING": "hello",
        "COUNT": "3",
        "LOUD": "false",
        "API_TOKEN": SECRET,
    }
    assert payload["language"] == "bash" and payload["content"] == 'echo "$GREETING"\n'
    assert payload["script_id"] == sid and payload["timeout_seconds"] == 300

    detail = ok(admin.get(f"/api/v1/script-executions/{run['id']}"))
    assert detail["parameters"]["API_TOKEN"] == "********"
    assert detail["parameters"]["COUNT"] == "3"
    assert detail["secret_names"] == ["API_TOKEN"]

    fleet.a.ack(run["id"])
    fleet.a.result(run["id"], stdout=f"hello\ntoken={SECRET}\n", exit_code=0, duration_ms=12)
    detail = ok(admin.get(f"/api/v1/script-executions/{run['id']}"))
    assert detail["status"] == "completed" and detail["exit_code"] == 0
    assert detail["stdout"].startswith("hello\n") and SECRET not in detail["stdout"]
    assert detail["script_version"] == 1 and detail["language"] == "bash"
    done = ok(admin.get(f"/api/v1/script-batches/{batch['id']}"))
    assert done["status"] == "completed"
    assert done["progress"]["completed"] == 1 and done["progress"]["finished"] == 1

    (row,) = audit_rows(admin, action="script.execute", resource_id=sid)
    assert row["details"]["devices"] == 1 and row["details"]["batch_id"] == batch["id"]
    everything = json.dumps(
        [
            detail,
            done,
            executions(admin, batch_id=batch["id"]),
            audit_rows(admin, org_id=fleet.tenant.org["id"]),
            ok(admin.get(f"/api/v1/devices/{fleet.a.device_id}/commands")),
        ]
    )
    assert SECRET not in everything


def test_targets_sites_orgs_and_operating_systems(admin: httpx.Client, fleet: Fleet) -> None:
    sid = fleet.script["id"]
    params = {"API_TOKEN": SECRET}
    by_org = ok(execute(admin, sid, org_ids=[fleet.tenant.org["id"]], parameters=params), 201)
    assert sorted(e["device_name"] for e in by_org["executions"]) == ["alpha", "bravo"]
    (skip,) = by_org["skipped"]
    assert skip["device_id"] == fleet.win.device_id and "windows" in skip["reason"]
    assert by_org["batch"]["total"] == 2
    assert by_org["batch"]["targets"]["org_ids"] == [fleet.tenant.org["id"]]

    by_site = ok(execute(admin, sid, site_ids=[fleet.site2["id"]], parameters=params), 201)
    assert [e["device_id"] for e in by_site["executions"]] == [fleet.b.device_id]

    # A device named and reached through its site runs once.
    both = ok(
        execute(
            admin,
            sid,
            device_ids=[fleet.a.device_id],
            site_ids=[fleet.tenant.site["id"]],
            parameters=params,
        ),
        201,
    )
    assert [e["device_id"] for e in both["executions"]] == [fleet.a.device_id]
    assert [s["device_id"] for s in both["skipped"]] == [fleet.win.device_id]

    only_windows = execute(admin, sid, device_ids=[fleet.win.device_id], parameters=params)
    assert fields_of(only_windows) == ["device_ids"]
    assert "windows" in only_windows.json()["detail"]

    listed = executions(admin, script_id=sid)
    assert len(listed) == 4
    assert len(executions(admin, script_id=sid, device_id=fleet.b.device_id)) == 2
    assert len(executions(admin, batch_id=by_org["batch"]["id"], status="pending")) == 2
    assert executions(admin, script_id=sid, status="completed") == []


def test_target_and_parameter_errors(admin: httpx.Client, fleet: Fleet) -> None:
    sid = fleet.script["id"]
    dev = [fleet.a.device_id]
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"device_ids": dev}, ["parameters.API_TOKEN"]),
        ({"device_ids": dev, "parameters": {"API_TOKEN": "short"}}, ["parameters.API_TOKEN"]),
        (
            {"device_ids": dev, "parameters": {"API_TOKEN": SECRET, "COUNT": "x"}},
            ["parameters.COUNT"],
        ),
        (
            {"device_ids": dev, "parameters": {"API_TOKEN": SECRET, "COUNT": 9}},
            ["parameters.COUNT"],
        ),
        (
            {"device_ids": dev, "parameters": {"API_TOKEN": SECRET, "NOPE": 1}},
            ["parameters.NOPE"],
        ),
        ({"parameters": {"API_TOKEN": SECRET}}, ["device_ids"]),
        ({"device_ids": dev, "timeout_seconds": 0}, ["timeout_seconds"]),
        ({"device_ids": dev, "surprise": True}, ["surprise"]),
        ({"device_ids": ["not-a-uuid"]}, ["device_ids.0"]),
    ]
    for body, expected in cases:
        r = execute(admin, sid, **body)
        assert fields_of(r) == expected, (body, r.text)
    r = execute(admin, sid, device_ids=dev, parameters={"API_TOKEN": "short"})
    assert "short" not in r.text  # a secret is never echoed back
    r = execute(admin, sid, group_ids=[fleet.tenant.org["id"]])  # not a group: like a site
    assert fields_of(r, 404) == ["group_ids"], r.text
    assert executions(admin, script_id=sid) == []


def test_timeout_run_as_and_system_script(admin: httpx.Client, fleet: Fleet) -> None:
    system = ok(admin.get("/api/v1/scripts", params={"is_system": "true", "q": "restart"}))
    (restart,) = system["items"]
    bad = execute(
        admin,
        restart["id"],
        device_ids=[fleet.a.device_id],
        parameters={"SERVICE_NAME": "nginx; reboot"},
    )
    assert fields_of(bad) == ["parameters.SERVICE_NAME"]
    answer = ok(
        execute(
            admin,
            restart["id"],
            device_ids=[fleet.a.device_id],
            parameters={"SERVICE_NAME": "nginx"},
            timeout_seconds=45,
            run_as="operator",
        ),
        201,
    )
    assert answer["batch"]["script_name"] == "Restart a service"
    (envelope,) = fleet.a.heartbeat()
    assert envelope["payload"]["timeout_seconds"] == 45
    assert envelope["payload"]["run_as"] == "operator"
    assert envelope["payload"]["env"] == {"SERVICE_NAME": "nginx"}
    assert envelope["payload"]["language"] == "sh"


def test_rerun_needs_the_secret_again_and_cancel(admin: httpx.Client, fleet: Fleet) -> None:
    sid = fleet.script["id"]
    first = ok(
        execute(
            admin,
            sid,
            device_ids=[fleet.a.device_id],
            parameters={"GREETING": "hi", "API_TOKEN": SECRET},
        ),
        201,
    )
    (run,) = first["executions"]
    (envelope,) = fleet.a.heartbeat()
    fleet.a.ack(run["id"])
    fleet.a.result(run["id"], status="failed", exit_code=3)
    # The script changes; a rerun still runs the version that ran.
    ok(admin.patch(f"/api/v1/scripts/{sid}", json={"content": "echo v2\n"}))

    r = admin.post(f"/api/v1/script-executions/{run['id']}/rerun", json={})
    assert fields_of(r) == ["parameters.API_TOKEN"]
    r = admin.post(
        f"/api/v1/script-executions/{run['id']}/rerun",
        json={"parameters": {"API_TOKEN": SECRET, "GREETING": "other"}},
    )
    assert fields_of(r) == ["parameters.GREETING"]
    again = ok(
        admin.post(
            f"/api/v1/script-executions/{run['id']}/rerun",
            json={"parameters": {"API_TOKEN": "another-secret-1"}},
        ),
        201,
    )
    (rerun,) = again["executions"]
    assert rerun["rerun_of"] == run["id"] and rerun["script_version"] == 1
    assert again["batch"]["id"] != first["batch"]["id"]
    assert again["batch"]["parameters"]["GREETING"] == "hi"
    (env2,) = fleet.a.heartbeat()
    assert env2["payload"]["content"] == envelope["payload"]["content"]
    assert env2["payload"]["env"] == {**envelope["payload"]["env"], "API_TOKEN": "another-secret-1"}

    cancelled = ok(admin.post(f"/api/v1/script-executions/{rerun['id']}/cancel"))
    assert cancelled["cancel_requested_at"] is not None  # sent: the agent is told
    pending = ok(
        execute(admin, sid, device_ids=[fleet.b.device_id], parameters={"API_TOKEN": SECRET}),
        201,
    )["executions"][0]
    assert ok(admin.post(f"/api/v1/script-executions/{pending['id']}/cancel"))["status"] == (
        "cancelled"
    )
    assert admin.post(f"/api/v1/script-executions/{run['id']}/cancel").status_code == 409


def test_roles_and_tenancy(admin: httpx.Client, fleet: Fleet, mailbox: Mailbox) -> None:
    sid = fleet.script["id"]
    org = fleet.tenant.org["id"]
    body = {"device_ids": [fleet.a.device_id], "parameters": {"API_TOKEN": SECRET}}
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=org)
    tech = make_member(admin, mailbox, role="Org Technician", org_id=org)
    assert execute(viewer, sid, **body).status_code == 403
    assert execute(viewer, sid, org_ids=[org], parameters=body["parameters"]).status_code == 403
    run = ok(execute(tech, sid, **body), 201)["executions"][0]
    assert ok(viewer.get(f"/api/v1/script-executions/{run['id']}"))["id"] == run["id"]
    assert viewer.post(f"/api/v1/script-executions/{run['id']}/cancel").status_code == 403
    assert viewer.post(f"/api/v1/script-executions/{run['id']}/rerun", json={}).status_code == 403

    other: Tenant = make_tenant(admin)
    outsider = make_member(admin, mailbox, role="Org Admin", org_id=other.org["id"])
    assert execute(outsider, sid, **body).status_code == 404
    own = make_script(outsider, other)
    assert execute(outsider, own["id"], device_ids=[fleet.a.device_id]).status_code == 404
    assert execute(outsider, own["id"], site_ids=[fleet.site2["id"]]).status_code == 404
    assert execute(outsider, own["id"], org_ids=[org]).status_code == 404
    batch_id = ok(admin.get(f"/api/v1/script-executions/{run['id']}"))["batch_id"]
    for path in (
        f"/api/v1/script-executions/{run['id']}",
        f"/api/v1/script-batches/{batch_id}",
    ):
        assert outsider.get(path).status_code == 404
    assert outsider.post(f"/api/v1/script-executions/{run['id']}/cancel").status_code == 404
    assert outsider.post(f"/api/v1/script-executions/{run['id']}/rerun", json={}).status_code == 404
    assert executions(outsider) == []


def test_decommissioned_devices_are_skipped(admin: httpx.Client, fleet: Fleet) -> None:
    ok(admin.delete(f"/api/v1/devices/{fleet.b.device_id}"), 204)
    answer = ok(
        execute(
            admin,
            fleet.script["id"],
            device_ids=[fleet.a.device_id, fleet.b.device_id],
            parameters={"API_TOKEN": SECRET},
        ),
        201,
    )
    assert [e["device_id"] for e in answer["executions"]] == [fleet.a.device_id]
    assert [(s["device_id"], s["reason"]) for s in answer["skipped"]] == [
        (fleet.b.device_id, "decommissioned")
    ]
