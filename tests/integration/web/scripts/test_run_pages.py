"""The run dialog, the batch page and the execution history over HTTP (a protocol-level
agent; the real agent and the live output are in tests/e2e/scripts)."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.factories import MEMBER_PASSWORD, Tenant, make_member, make_tenant, ok
from tests.integration.scripts.helpers import enroll_device, make_script
from tests.integration.web.scripts.helpers import console, post
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

SCHEMA = {
    "type": "object",
    "properties": {
        "COLOR": {"type": "string", "enum": ["red", "green"], "default": "red"},
        "COUNT": {"type": "integer", "minimum": 1, "maximum": 3},
        "LOUD": {"type": "boolean", "default": False},
        "API_KEY": {"type": "string", "writeOnly": True},
    },
    "required": ["COUNT", "API_KEY"],
}


def test_run_dialog_validates_then_starts_a_batch(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    script = make_script(admin, tenant, parameters=SCHEMA)
    agent = enroll_device(admin, tenant)
    windows = enroll_device(admin, tenant, os_type="windows")
    with console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        page = c.get(
            "/scripts/run",
            params={
                "script_id": script["id"],
                "device_ids": f"{agent.device_id},{windows.device_id}",
            },
        )
        assert page.status_code == 200
        assert '<select id="p-COLOR" name="param.COLOR"' in page.text  # enum: a select
        assert 'id="p-API_KEY" name="param.API_KEY"' in page.text
        assert 'type="password"' in page.text  # the secret
        assert 'type="number"' in page.text  # the integer
        for device in (agent, windows):  # both devices pre-chosen
            assert f'name="device_ids" value="{device.device_id}" checked' in page.text
        base = {"script_id": script["id"], "device_ids": [agent.device_id, windows.device_id]}
        r = post(c, "/scripts/run", {**base, "param.COUNT": "9", "param.API_KEY": "s3cret-value"})
        assert r.status_code == 422
        assert 'id="p-COUNT-error"' in r.text and "maximum" in r.text
        assert "s3cret-value" not in r.text  # a secret is never sent back
        r = post(c, "/scripts/run", {**base, "param.COUNT": "two", "param.API_KEY": "x"})
        assert r.status_code == 422 and "must be a whole number" in r.text
        r = post(c, "/scripts/run", {"script_id": script["id"], "param.COUNT": "1"})
        assert r.status_code == 422 and 'id="targets-error"' in r.text
        r = post(c, "/scripts/run", {**base, "device_ids": [str(uuid.uuid4())]})
        assert r.status_code == 404
        r = post(
            c,
            "/scripts/run",
            {**base, "param.COUNT": "2", "param.API_KEY": "s3cret-value", "param.LOUD": "true"},
        )
        assert r.status_code == 303, r.text
        batch_id = r.headers["location"].split("/scripts/batches/")[1].split("?")[0]
        batch = ok(admin.get(f"/api/v1/script-batches/{batch_id}"))
        assert batch["total"] == 1  # the Windows device is skipped
        assert batch["parameters"] == {
            "COLOR": "red",
            "COUNT": 2,
            "LOUD": True,
            "API_KEY": "********",
        }
        page = c.get(f"/scripts/batches/{batch_id}")
        assert page.status_code == 200
        assert f"/api/v1/script-batches/{batch_id}/stream" in page.text
        assert f"/api/v1/devices/{agent.device_id}/commands/" in page.text
        assert "s3cret-value" not in page.text
        assert ">Cancel on " in page.text
        again = c.get("/scripts/run", params={"from_batch": batch_id})
        assert again.status_code == 200
        assert f'value="{agent.device_id}" checked' in again.text
        assert 'value="2"' in again.text  # the earlier COUNT, the secret left empty
        execution = ok(admin.get("/api/v1/script-executions", params={"batch_id": batch_id}))
        cid = execution["items"][0]["id"]
        r = post(c, f"/scripts/executions/{cid}/cancel", {})
        assert r.status_code == 303 and batch_id in r.headers["location"]
        assert ok(admin.get(f"/api/v1/script-executions/{cid}"))["status"] == "cancelled"
        runs = c.get("/scripts/executions", params={"status": "cancelled", "org": tenant.org["id"]})
        assert runs.status_code == 200 and f"/scripts/batches/{batch_id}" in runs.text
        runs = c.get("/scripts/executions", params={"status": "failed", "org": tenant.org["id"]})
        assert f"/scripts/batches/{batch_id}" not in runs.text
        runs = c.get("/scripts/executions", params={"device_id": agent.device_id})
        assert f"/scripts/batches/{batch_id}" in runs.text and "all devices" in runs.text
        assert c.get("/scripts/executions", params={"status": "x,"}).status_code == 200
        assert c.get("/scripts/executions", params={"device_id": "nope"}).status_code == 422


def test_target_pickers_search_within_scope(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = enroll_device(admin, tenant, hostname="picker-host-one")
    other = make_tenant(admin)
    enroll_device(admin, other, hostname="picker-host-two")
    with console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        r = c.get(
            "/scripts/run/targets",
            params={"kind": "devices", "q": "picker-host", "org": tenant.org["id"]},
        )
        assert r.status_code == 200
        assert "picker-host-one" in r.text and "picker-host-two" not in r.text
        r = c.get(
            "/scripts/run/targets",
            params={"kind": "devices", "q": "picker-host", "device_ids": agent.device_id},
        )
        assert "picker-host-one" not in r.text  # already chosen
        r = c.get("/scripts/run/targets", params={"kind": "sites", "org": tenant.org["id"]})
        assert tenant.site["name"] in r.text
        r = c.get("/scripts/run/targets", params={"kind": "orgs", "q": tenant.org["name"]})
        assert tenant.org["name"] in r.text
        r = c.get("/scripts/run/target", params={"kind": "devices", "id": agent.device_id})
        assert r.status_code == 200
        assert re.search(rf'name="device_ids" value="{agent.device_id}" checked', r.text)
        assert 'hx-swap-oob="delete"' in r.text
        r = c.get("/scripts/run/target", params={"kind": "groups", "id": str(uuid.uuid4())})
        assert r.status_code == 404
        r = c.get("/scripts/run", params={"device_ids": "not-an-id"})
        assert r.status_code == 422 and "invalid device_ids" in r.text


def test_batch_of_another_tenant_is_a_404(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    script = make_script(admin, tenant)
    agent = enroll_device(admin, tenant)
    started = ok(
        admin.post(
            f"/api/v1/scripts/{script['id']}/execute", json={"device_ids": [agent.device_id]}
        ),
        201,
    )
    with console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        assert c.get(f"/scripts/batches/{started['batch']['id']}").status_code == 200
        assert c.get(f"/scripts/batches/{uuid.uuid4()}").status_code == 404
    other = make_tenant(admin)
    stranger = make_member(admin, mailbox, role="Org Technician", org_id=other.org["id"])
    cid = started["executions"][0]["id"]
    with console(server.url, stranger.email, MEMBER_PASSWORD) as c:  # type: ignore[attr-defined]
        assert c.get(f"/scripts/batches/{started['batch']['id']}").status_code == 404
        assert post(c, f"/scripts/executions/{cid}/cancel", {}).status_code == 404
        assert post(c, f"/scripts/executions/{cid}/rerun", {}).status_code == 404
        assert (
            c.get("/scripts/run", params={"from_batch": started["batch"]["id"]}).status_code == 404
        )
        assert c.get("/scripts/run", params={"script_id": script["id"]}).status_code == 404
        runs = c.get("/scripts/executions")
        assert runs.status_code == 200 and started["batch"]["id"] not in runs.text
    stranger.close()
