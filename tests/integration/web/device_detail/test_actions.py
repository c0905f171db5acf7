"""Device actions from the page: each queues through the same action as the API, is
refused (403) to a viewer even when forged, and another tenant's device is a 404."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.factories import Tenant, make_member, make_tenant, ok, unique
from tests.integration.devices.agents import Agent, enroll
from tests.integration.web.device_detail.helpers import Console, console, member_console
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

ACTION_BUTTONS = ("Collect inventory", "Reboot", "Shut down", "Decommission", "Run script")


@pytest.fixture
def web(server: LiveServer) -> Iterator[Console]:
    c = console(server)
    yield c
    c.close()


@pytest.fixture
def agent(server: LiveServer, admin: httpx.Client, tenant: Tenant) -> Agent:
    return enroll(server, admin, tenant)


def commands_of(admin: httpx.Client, device_id: str) -> list[dict[str, object]]:
    return ok(admin.get(f"/api/v1/devices/{device_id}/commands"))["items"]  # type: ignore[no-any-return]


def test_collect_inventory_queues_and_shows_the_command(
    web: Console, agent: Agent, admin: httpx.Client
) -> None:
    r = web.post(f"/devices/{agent.device_id}/actions/collect-inventory")
    assert r.status_code == 303, r.text
    (cmd,) = commands_of(admin, agent.device_id)
    assert cmd["type"] == "collect_inventory" and cmd["status"] == "pending"
    assert r.headers["location"] == f"/devices/{agent.device_id}/commands/{cmd['id']}"
    page = web.get(r.headers["location"])
    assert page.status_code == 200
    assert "Collect inventory was queued" in page.text  # the flash
    assert 'data-status="pending"' in page.text
    assert 'data-island="command_stream"' in page.text
    assert f"/api/v1/devices/{agent.device_id}/commands/{cmd['id']}/stream" in page.text
    listing = web.get(f"/devices/{agent.device_id}/commands")
    assert f'data-command-id="{cmd["id"]}"' in listing.text
    assert 'hx-trigger="every 3s"' in listing.text  # refreshes while a command is open


def test_reboot_with_delay_and_message_then_cancel(
    web: Console, agent: Agent, admin: httpx.Client
) -> None:
    r = web.post(
        f"/devices/{agent.device_id}/actions/reboot",
        {"delay_seconds": "60", "message": "Patch night"},
        htmx=True,
    )
    assert r.status_code == 204
    (cmd,) = commands_of(admin, agent.device_id)
    assert cmd["type"] == "reboot"
    assert cmd["payload"] == {"delay_seconds": 60, "message": "Patch night"}
    assert r.headers["HX-Redirect"] == f"/devices/{agent.device_id}/commands/{cmd['id']}"
    cancelled = web.post(f"/devices/{agent.device_id}/commands/{cmd['id']}/cancel")
    assert cancelled.status_code == 303
    assert commands_of(admin, agent.device_id)[0]["status"] == "cancelled"
    page = web.get(cancelled.headers["location"])
    assert "cancelled before the device took it" in page.text
    again = web.post(f"/devices/{agent.device_id}/commands/{cmd['id']}/cancel")
    assert again.status_code == 303  # already final: said so, nothing changes
    assert "can no longer be cancelled" in web.get(again.headers["location"]).text


def test_bad_action_input_is_shown_in_the_form(
    web: Console, agent: Agent, admin: httpx.Client
) -> None:
    r = web.post(
        f"/devices/{agent.device_id}/actions/shutdown", {"delay_seconds": "99999"}, htmx=True
    )
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text and "delay_seconds" in r.text
    assert "3600" in r.text
    r = web.post(f"/devices/{agent.device_id}/actions/reboot", {"delay_seconds": "soon"}, htmx=True)
    assert r.status_code == 422
    assert web.post(f"/devices/{agent.device_id}/actions/explode").status_code == 404
    wrong = web.post(
        f"/devices/{agent.device_id}/decommission", {"confirm_name": "nope"}, htmx=True
    )
    assert wrong.status_code == 422
    assert "Type the device's host name exactly" in html.unescape(wrong.text)
    assert commands_of(admin, agent.device_id) == []
    assert ok(admin.get(f"/api/v1/devices/{agent.device_id}"))["decommissioned_at"] is None


def test_decommission_after_typing_the_host_name(
    web: Console, agent: Agent, admin: httpx.Client
) -> None:
    host = ok(admin.get(f"/api/v1/devices/{agent.device_id}"))["hostname"]
    r = web.post(f"/devices/{agent.device_id}/decommission", {"confirm_name": host})
    assert r.status_code == 303
    assert r.headers["location"] == "/devices"
    assert ok(admin.get(f"/api/v1/devices/{agent.device_id}"))["status"] == "decommissioned"
    page = web.get(f"/devices/{agent.device_id}")
    assert "This device was decommissioned" in page.text
    assert "Collect inventory" not in page.text  # nothing can run on it any more
    refused = web.post(f"/devices/{agent.device_id}/actions/collect-inventory")
    assert refused.status_code == 409


def test_custom_fields_read_and_edit(web: Console, agent: Agent, admin: httpx.Client) -> None:
    org = agent.tenant.org["id"]
    for body in (
        {"org_id": org, "key": "rack", "name": "Rack", "type": "text"},
        {"org_id": org, "key": "slots", "name": "Slots", "type": "number"},
        {
            "org_id": org,
            "key": "env",
            "name": "Environment",
            "type": "select",
            "options": ["prod", "test"],
            "default_value": "test",
        },
    ):
        ok(admin.post("/api/v1/custom-fields", json=body), 201)
    page = web.get(f"/devices/{agent.device_id}")
    assert "Edit custom fields" in page.text and "(default)" in page.text
    form = web.get(f"/devices/{agent.device_id}/custom-fields/edit")
    assert 'name="cf.rack"' in form.text and 'name="cf.env"' in form.text
    bad = web.post(f"/devices/{agent.device_id}/custom-fields", {"cf.slots": "many"}, htmx=True)
    assert bad.status_code == 422
    assert "needs a number" in bad.text
    saved = web.post(
        f"/devices/{agent.device_id}/custom-fields",
        {"cf.rack": "B-12", "cf.slots": "4", "cf.env": ""},
    )
    assert saved.status_code == 303
    values = {
        v["key"]: v for v in ok(admin.get(f"/api/v1/devices/{agent.device_id}/custom-fields"))
    }
    assert values["rack"]["value"] == "B-12"
    assert values["slots"]["value"] == 4
    assert values["env"]["is_default"] is True  # left on its default, not copied
    assert "B-12" in web.get(f"/devices/{agent.device_id}").text


def test_viewer_sees_no_actions_and_forged_posts_are_refused(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant, agent: Agent
) -> None:
    ok(
        admin.post(
            "/api/v1/custom-fields",
            json={
                "org_id": tenant.org["id"],
                "key": unique("f").replace("-", "_"),
                "name": "Owner",
                "type": "text",
            },
        ),
        201,
    )
    queued = ok(
        admin.post(
            f"/api/v1/devices/{agent.device_id}/commands", json={"type": "collect_inventory"}
        ),
        201,
    )
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    web = member_console(server, viewer)
    try:
        base = f"/devices/{agent.device_id}"
        page = web.get(base)
        assert page.status_code == 200
        for label in ACTION_BUTTONS:
            assert not re.search(rf">\s*{label}\s*<", page.text), label
        assert "Edit custom fields" not in page.text
        command = web.get(f"{base}/commands/{queued['id']}")
        assert command.status_code == 200 and "Cancel command" not in command.text
        for path, data in (
            (f"{base}/actions/reboot", {}),
            (f"{base}/actions/collect-inventory", {}),
            (f"{base}/decommission", {"confirm_name": "whatever"}),
            (f"{base}/commands/{queued['id']}/cancel", {}),
            (f"{base}/custom-fields", {"cf.owner": "me"}),
        ):
            r = web.post(path, data)
            assert r.status_code == 403, (path, r.status_code)
        assert web.get(f"{base}/custom-fields/edit").status_code == 403
        assert [c["status"] for c in commands_of(admin, agent.device_id)] == ["pending"]
    finally:
        web.close()
        viewer.close()


def test_another_tenants_device_is_a_404(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, agent: Agent
) -> None:
    other = make_tenant(admin)
    outsider = make_member(admin, mailbox, role="Partner Admin", partner_id=other.partner["id"])
    web = member_console(server, outsider)
    queued = ok(
        admin.post(
            f"/api/v1/devices/{agent.device_id}/commands", json={"type": "collect_inventory"}
        ),
        201,
    )
    try:
        base = f"/devices/{agent.device_id}"
        for tab in (
            "",
            "/hardware",
            "/software",
            "/network",
            "/disks",
            "/metrics",
            "/history",
            "/commands",
            f"/commands/{queued['id']}",
            "/status",
            "/custom-fields",
        ):
            r = web.get(base + tab)
            assert r.status_code == 404, (tab, r.status_code)
            assert agent.tenant.org["name"] not in r.text
        for path in (
            f"{base}/actions/reboot",
            f"{base}/decommission",
            f"{base}/commands/{queued['id']}/cancel",
            f"{base}/custom-fields",
        ):
            assert web.post(path, {"confirm_name": "x"}).status_code == 404, path
        assert [c["status"] for c in commands_of(admin, agent.device_id)] == ["pending"]
    finally:
        web.close()
        outsider.close()
