"""Bulk actions and saved views of the device list over HTTP, and what a viewer is
(not) offered and may (not) do."""

from __future__ import annotations

import uuid

import httpx

from tests.factories import Tenant, make_member, make_site, ok
from tests.integration.scripts.helpers import enroll_device
from tests.integration.web.devices_list.helpers import console, member_console
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


def tags_of(admin: httpx.Client, device_id: str) -> list[str]:
    return ok(admin.get(f"/api/v1/devices/{device_id}"))["tags"]  # type: ignore[no-any-return]


def test_bulk_tag_untag_and_move(server: LiveServer, admin: httpx.Client, tenant: Tenant) -> None:
    one = enroll_device(admin, tenant)
    two = enroll_device(admin, tenant)
    org = tenant.org["id"]
    url = f"/devices/bulk?org={org}"
    with console(server) as web:
        r = web.post_form(
            url,
            {"action": "tag", "tags": "Finance, vip", "device_ids": [one.device_id, two.device_id]},
        )
        assert r.status_code == 200, r.text
        assert "Tagged 2 of 2 devices (finance, vip)" in r.text
        assert r.headers["HX-Trigger"] == "devices-changed"
        assert tags_of(admin, one.device_id) == ["finance", "vip"]

        r = web.post_form(url, {"action": "untag", "tags": "vip", "device_ids": [two.device_id]})
        assert "Removed the tag from 1 of 1 device" in r.text
        assert tags_of(admin, two.device_id) == ["finance"]

        site = make_site(admin, org, name="Warehouse")
        r = web.post_form(
            url, {"action": "move_site", "site_id": site["id"], "device_ids": [one.device_id]}
        )
        assert "Moved 1 of 1 device" in r.text
        assert ok(admin.get(f"/api/v1/devices/{one.device_id}"))["site_id"] == site["id"]

        # The per-device results name the devices that could not be changed.
        gone = str(uuid.uuid4())
        r = web.post_form(url, {"action": "tag", "tags": "x", "device_ids": [one.device_id, gone]})
        assert "Tagged 1 of 2 devices" in r.text
        assert "Device not found" in r.text


def test_bulk_mistakes_are_explained(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    one = enroll_device(admin, tenant)
    url = f"/devices/bulk?org={tenant.org['id']}"
    with console(server) as web:
        r = web.post_form(url, {"action": "tag", "tags": "x"})
        assert r.status_code == 422
        assert "Select at least one device" in r.text
        r = web.post_form(url, {"action": "tag", "tags": " ", "device_ids": [one.device_id]})
        assert r.status_code == 422
        assert "Type the tag" in r.text
        r = web.post_form(url, {"action": "decommission", "device_ids": [one.device_id]})
        assert r.status_code == 422
        assert "send confirm: true" in r.text
        r = web.post_form(url, {"action": "explode", "device_ids": [one.device_id]})
        assert r.status_code == 422
        assert "Choose what to do" in r.text
        # Run script goes on to the run dialog with the selection (nothing is written).
        r = web.post_form(
            url, {"action": "run_script", "device_ids": [one.device_id]}, **{"HX-Request": "true"}
        )
        assert r.status_code == 204
        assert r.headers["HX-Redirect"] == (
            f"/scripts/run?org={tenant.org['id']}&device_ids={one.device_id}"
        )
        # Decommission with the confirmation.
        r = web.post_form(
            url, {"action": "decommission", "confirm": "true", "device_ids": [one.device_id]}
        )
        assert "Decommissioned 1 of 1 device" in r.text
        page = web.page("/devices", org=tenant.org["id"])
    assert page.status_code == 200
    assert "No devices yet" in page.text
    assert one.device_id not in page.text


def test_a_viewer_gets_no_bulk_actions_and_a_forged_post_is_refused(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    device = enroll_device(admin, tenant)
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    with member_console(server, viewer) as web:
        page = web.page("/devices")
        assert page.status_code == 200
        assert device.device_id in page.text
        assert 'id="bulk-form"' not in page.text
        assert "data-row-select" not in page.text
        assert "Decommission…" not in page.text
        assert "Add tag" not in page.text
        for action, extra in (
            ("tag", {"tags": "pwned"}),
            ("decommission", {"confirm": "true"}),
            ("run_script", {}),
        ):
            r = web.post_form(
                "/devices/bulk", {"action": action, "device_ids": [device.device_id], **extra}
            )
            assert r.status_code == 403, r.text
            assert "does not allow" in r.text
        # Without the session's CSRF token nothing is even considered.
        r = web.post(
            "/devices/bulk", data={"action": "tag", "tags": "x", "device_ids": [device.device_id]}
        )
        assert r.status_code == 403
    assert tags_of(admin, device.device_id) == []
    assert ok(admin.get(f"/api/v1/devices/{device.device_id}"))["decommissioned_at"] is None


def test_saved_views_round_trip_and_stay_private(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    tech = make_member(admin, mailbox, role="Org Technician", org_id=org)
    name = f"Offline windows {uuid.uuid4().hex[:4]}"
    current = {"q": "", "status": "offline", "os_type": "windows", "sort": "-last_seen_at"}
    with member_console(server, tech) as web:
        r = web.post_form("/devices/views", {"name": name, **current, "org": org})
        assert r.status_code == 200, r.text
        assert name in r.text
        assert "status=offline&amp;os_type=windows&amp;sort=-last_seen_at" in r.text
        views = ok(tech.get("/api/v1/saved-views"))["items"]
        (view,) = [v for v in views if v["name"] == name]
        assert view["filters"] == {
            "status": "offline",
            "os_type": "windows",
            "sort": "-last_seen_at",
        }
        # The same name again: refused, said next to the field.
        again = web.post_form("/devices/views", {"name": name.upper(), **current})
        assert again.status_code == 409
        assert 'aria-invalid="true"' in again.text
        # A bad filter is not saved.
        bad = web.post_form("/devices/views", {"name": "broken", "custom_field": "oops"})
        assert bad.status_code == 422
        assert "is not a custom field filter" in bad.text
        # The list page offers it as a link with the filters (scope kept).
        page = web.page("/devices", org=org)
        assert f"/devices?org={org}&amp;status=offline&amp;os_type=windows" in page.text
    with console(server) as other:
        assert name not in other.page("/devices").text
        r = other.post_form(f"/devices/views/{view['id']}/delete", {})
        assert r.status_code == 404
    with member_console(server, tech) as web:
        r = web.post_form(f"/devices/views/{view['id']}/delete", {})
        assert r.status_code == 200
        assert name not in r.text
    assert [v for v in ok(tech.get("/api/v1/saved-views"))["items"] if v["name"] == name] == []
