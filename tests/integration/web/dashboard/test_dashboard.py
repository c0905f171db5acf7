"""The dashboard over HTTP: real counts by status and OS, offline devices, pending
reboots, failing script runs, recent changes and activity; scope and role aware."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.factories import Tenant, make_member, make_tenant, ok
from tests.integration.devices.agents import enroll as enroll_with_inventory
from tests.integration.devices.agents import inventory
from tests.integration.scripts.helpers import enroll_device, make_script
from tests.integration.web.devices_list.helpers import console, member_console, set_device
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

FRAGMENT = {"HX-Request": "true"}


def figure(html: str, name: str) -> int:
    """The number shown on the dashboard card `data-figure=name`."""
    m = re.search(rf'data-figure="{name}".*?<div class="h1 mb-0">([\d,]+)</div>', html, re.S)
    assert m, f"no figure {name}"
    return int(m.group(1).replace(",", ""))


def test_a_new_scope_says_how_to_add_a_device(server: LiveServer, tenant: Tenant) -> None:
    with console(server) as web:
        r = web.page("/", org=tenant.org["id"])
    assert r.status_code == 200
    assert "No devices yet — add one" in r.text
    assert f'href="/settings/enrollment-keys?org={tenant.org["id"]}"' in r.text
    assert "No script run has failed." in r.text
    assert "No inventory change recorded yet." in r.text


def test_counts_offline_list_and_pending_reboots(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    a = enroll_device(admin, tenant, hostname=f"dash-a-{uuid.uuid4().hex[:4]}")
    b = enroll_device(admin, tenant, os_type="windows", hostname=f"dash-b-{uuid.uuid4().hex[:4]}")
    c = enroll_device(admin, tenant, hostname=f"dash-c-{uuid.uuid4().hex[:4]}")
    set_device(server, b.device_id, status="offline")
    set_device(server, c.device_id, pending_reboot=True)
    other = make_tenant(admin)
    enroll_device(admin, other, hostname="elsewhere-host")
    with console(server) as web:
        page = web.page("/", org=org)
        panel = web.get("/dashboard/devices", params={"org": org}, headers=FRAGMENT)
    assert page.status_code == 200
    for html in (page.text, panel.text):
        assert figure(html, "total") == 3
        assert figure(html, "status-online") == 2
        assert figure(html, "status-offline") == 1
        assert figure(html, "pending-reboot") == 1
        assert 'data-figure="os-linux"' in html and 'data-figure="os-windows"' in html
        assert "elsewhere-host" not in html
    # Links into the filtered list keep the scope.
    assert f'href="/devices?org={org}&amp;status=offline"' in page.text
    assert f'href="/devices?org={org}&amp;os_type=windows"' in page.text
    assert f'href="/devices?org={org}&amp;has_pending_reboot=true"' in page.text
    # The offline list names the offline device and links to it.
    offline = page.text.split("Offline devices", 1)[1].split("</table>", 1)[0]
    assert f'href="/devices/{b.device_id}?org={org}"' in offline
    assert a.device_id not in offline
    # The fragment is just the panel, polled every 15 s.
    assert "<html" not in panel.text
    assert 'hx-trigger="every 15s"' in panel.text


def test_failing_script_runs_link_to_their_batch(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = enroll_device(admin, tenant, hostname=f"failing-{uuid.uuid4().hex[:4]}")
    script = make_script(admin, tenant, name=f"Broken backup {uuid.uuid4().hex[:4]}")
    answer = ok(
        admin.post(
            f"/api/v1/scripts/{script['id']}/execute",
            json={"device_ids": [agent.device_id], "parameters": {}},
        ),
        201,
    )
    (run,) = answer["executions"]
    agent.heartbeat()
    agent.ack(run["id"])
    agent.result(run["id"], status="failed", exit_code=7, stderr="disk full")
    with console(server) as web:
        r = web.get("/dashboard/scripts", params={"org": tenant.org["id"]}, headers=FRAGMENT)
    assert r.status_code == 200
    assert script["name"] in r.text
    assert "exit 7" in r.text
    assert "1 in the last 24 hours" in r.text
    assert f"/scripts/batches/{answer['batch']['id']}?org={tenant.org['id']}" in r.text
    assert f"/scripts/executions?org={tenant.org['id']}&amp;status=failed" in r.text


def test_activity_only_with_audit_read_and_scoped(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    device = enroll_device(admin, tenant)
    ok(admin.patch(f"/api/v1/devices/{device.device_id}", json={"display_name": "Front desk"}))
    org = tenant.org["id"]
    org_admin = make_member(admin, mailbox, role="Org Admin", org_id=org)
    with member_console(server, org_admin) as web:
        r = web.get("/dashboard/activity", headers=FRAGMENT)
    assert r.status_code == 200
    assert "Recent activity" in r.text
    assert "device.update" in r.text
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=org)
    with member_console(server, viewer) as web:
        page = web.page("/")
        r = web.get("/dashboard/activity", headers=FRAGMENT)
    assert page.status_code == 200
    assert "Recent activity" not in page.text and "Recent activity" not in r.text
    assert "Recent changes" in page.text
    assert figure(page.text, "total") == 1
    # Another organization's scope is not theirs: 404.
    with member_console(server, viewer) as web:
        assert web.page("/", org=make_tenant(admin).org["id"]).status_code == 404


def test_recent_changes_show_inventory_history(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    agent = enroll_with_inventory(server, admin, tenant)
    assert agent.send(inventory()) == 1  # the baseline: not a "change" worth a line
    doc = inventory()
    items = doc["software"]["items"]
    doc["software"] = {
        **doc["software"],
        "items": [*items, {**items[-1], "name": "breeze-dash-pkg"}],
    }
    assert agent.send(doc) == 1
    with console(server) as web:
        r = web.get("/dashboard/activity", params={"org": tenant.org["id"]}, headers=FRAGMENT)
    assert r.status_code == 200
    assert "breeze-dash-pkg" in r.text
    assert f"/devices/{agent.device_id}/changes?org={tenant.org['id']}" in r.text
    assert "baseline" not in r.text
