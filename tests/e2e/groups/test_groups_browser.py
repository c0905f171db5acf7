"""Device groups in Chromium: build a dynamic group with the visual rule builder while its
live preview follows the edits, save it and see its members; edit a static group's members;
the custom fields page. Devices are enrolled through the agent API (fake agents)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.factories import Tenant, ok, unique
from tests.integration.agents.helpers import enroll, make_enrollment_key
from tests.support.browser import PHONE, assert_accessible, shot
from tests.support.server import LiveServer

GROUPS = "/api/v1/device-groups"


def enroll_devices(
    console: LiveServer, admin: httpx.Client, tenant: Tenant, *hosts: tuple[str, str]
) -> dict[str, str]:
    """hostname -> device id, each enrolled like a fresh agent would."""
    key = make_enrollment_key(admin, tenant.org["id"], site_id=tenant.site["id"])["key"]
    return {
        hostname: ok(enroll(console.url, key, hostname=hostname, os_type=os_type))["device_id"]
        for hostname, os_type in hosts
    }


def preview_count(page: Page) -> Locator:
    return page.locator("[data-preview-count]")


def test_build_a_dynamic_group_with_the_rule_builder(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant
) -> None:
    marker = unique("rb").lower()
    devices = enroll_devices(
        console,
        console_admin,
        console_tenant,
        (f"{marker}-web1", "linux"),
        (f"{marker}-db1", "linux"),
        (f"{marker}-web2", "windows"),
    )
    org = console_tenant.org["id"]
    page = admin_page
    page.goto(f"{console.url}/groups/new?org={org}&type=dynamic")
    page.get_by_label("Name", exact=True).fill(f"Linux web {marker}")

    # The starter rule (OS type is linux) previews both Linux devices of the organization.
    count = preview_count(page)
    expect(count).to_have_attribute("data-preview-count", "2")
    preview = page.get_by_role("table", name="Devices that match the rules")
    expect(preview.get_by_role("link", name=f"{marker}-db1")).to_be_visible()

    # AND hostname contains "web": the preview narrows to one device as the rule changes.
    page.get_by_role("button", name="Add a condition to all rules").click()
    page.get_by_label("Field of condition 2").select_option(label="Hostname")
    page.get_by_label("Comparison of condition 2").select_option(label="contains")
    page.get_by_label("Value of condition 2").fill("web")
    expect(count).to_have_attribute("data-preview-count", "1")
    link = preview.get_by_role("link", name=f"{marker}-web1")
    expect(link).to_have_attribute("href", f"/devices/{devices[f'{marker}-web1']}")
    expect(preview.get_by_role("link", name=f"{marker}-db1")).to_have_count(0)

    # Match "any" instead of "all": three devices (linux, or a hostname with web).
    page.get_by_label("Match devices with").select_option("any")
    expect(count).to_have_attribute("data-preview-count", "3")
    page.get_by_label("Match devices with").select_option("all")
    expect(count).to_have_attribute("data-preview-count", "1")

    # A nested group: NOT (hostname ends with "1") leaves none.
    page.get_by_role("button", name="Add a group of conditions to all rules").click()
    page.get_by_label("Group 1: match").select_option("none")
    page.get_by_role("button", name="Add a condition to group 1").click()
    page.get_by_label("Field of condition 3").select_option(label="Hostname")
    page.get_by_label("Comparison of condition 3").select_option(label="ends with")
    page.get_by_label("Value of condition 3").fill("1")
    expect(count).to_have_attribute("data-preview-count", "0")
    page.get_by_role("button", name="Remove group 1").click()
    expect(count).to_have_attribute("data-preview-count", "1")

    # A rule the server refuses, typed in the raw JSON view, is shown beside its condition.
    page.get_by_role("button", name="Edit as JSON").click()
    raw = page.get_by_label("Rules (JSON)")
    raw.fill(
        '{"all": [{"field": "os_type", "op": "eq", "value": "linux"}, '
        '{"field": "hostname", "op": "gt", "value": "web"}]}'
    )
    expect(page.get_by_role("status").filter(has_text="rules.all.1.op")).to_be_visible()
    page.get_by_role("button", name="Use the visual builder").click()
    problem = page.get_by_role("group", name="Condition 2").get_by_role("alert")
    expect(problem).to_contain_text("for hostname use one of")
    page.get_by_label("Comparison of condition 2").select_option(label="contains")
    expect(problem).to_have_count(0)
    expect(count).to_have_attribute("data-preview-count", "1")

    shot(page, "group-rule-builder")
    assert_accessible(page)
    page.get_by_role("button", name="Create group").click()

    page.wait_for_url(re.compile(r".*/groups/[0-9a-f-]{36}\?org="))
    expect(page.locator("[data-rule-text]")).to_have_text(
        "OS type is 'linux' AND Hostname contains 'web'"
    )
    members = page.get_by_role("table", name=re.compile("^Members of"))
    expect(members.get_by_role("link", name=f"{marker}-web1")).to_be_visible()
    expect(members.get_by_role("row")).to_have_count(2)  # the header and one device
    shot(page, "group-detail")
    assert_accessible(page)

    page.get_by_role("link", name="Groups", exact=True).first.click()
    page.wait_for_url(re.compile(r".*/groups\?org="))
    row = page.get_by_role("row").filter(has_text=f"Linux web {marker}")
    expect(row).to_contain_text("dynamic")
    expect(row.get_by_role("cell").nth(2)).to_have_text("1")
    shot(page, "groups-list")
    assert_accessible(page)


def test_static_group_members_are_added_and_removed(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant
) -> None:
    marker = unique("st").lower()
    enroll_devices(console, console_admin, console_tenant, (f"{marker}-kiosk", "linux"))
    group = ok(
        console_admin.post(
            GROUPS,
            json={"org_id": console_tenant.org["id"], "name": unique("Kiosks"), "type": "static"},
        ),
        201,
    )
    page = admin_page
    page.goto(f"{console.url}/groups/{group['id']}")
    expect(page.get_by_text("No members yet")).to_be_visible()
    page.get_by_label("Find devices by hostname or address").fill(marker)
    candidate = page.get_by_label(re.compile(f"{marker}-kiosk"))
    candidate.check()
    page.get_by_role("button", name="Add selected").click()
    expect(page.locator("#members-result")).to_contain_text(f"Added 1 device: {marker}-kiosk")
    members = page.get_by_role("table", name=re.compile("^Members of"))
    expect(members.get_by_role("link", name=f"{marker}-kiosk")).to_be_visible()

    page.get_by_label(f"Select {marker}-kiosk").check()
    page.get_by_role("button", name="Remove selected").click()
    expect(page.locator("#members-result")).to_contain_text(f"Removed 1 device: {marker}-kiosk")
    expect(page.get_by_text("No members yet")).to_be_visible()
    assert ok(console_admin.get(f"{GROUPS}/{group['id']}"))["member_count"] == 0


def test_rule_builder_on_a_phone(
    signed_in: Callable[..., Page], console: LiveServer, console_tenant: Tenant
) -> None:
    page = signed_in(viewport=PHONE)
    page.goto(f"{console.url}/groups/new?org={console_tenant.org['id']}&type=dynamic")
    expect(page.get_by_role("button", name="Add a condition to all rules")).to_be_visible()
    expect(preview_count(page)).to_have_attribute("data-preview-count", "0")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways ({width}px)"
    shot(page, "group-rule-builder-phone")


def test_custom_fields_page(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant
) -> None:
    org = console_tenant.org["id"]
    ok(
        console_admin.post(
            "/api/v1/custom-fields",
            json={
                "org_id": org,
                "key": "tier",
                "name": "Support tier",
                "type": "select",
                "options": ["gold", "silver"],
            },
        ),
        201,
    )
    page = admin_page
    page.goto(f"{console.url}/settings/custom-fields?org={org}")
    row = page.get_by_role("row").filter(has_text="Support tier")
    expect(row).to_contain_text("gold, silver")
    page.get_by_role("link", name="New custom field").click()
    page.get_by_label("Name", exact=True).fill("Warranty ends")
    page.get_by_label("Key", exact=True).fill("warranty_ends")
    page.get_by_label("Type", exact=True).select_option("date")
    page.get_by_label("Default value").fill("2030-01-01")
    page.get_by_role("button", name="Create field").click()
    expect(page.get_by_role("row").filter(has_text="Warranty ends")).to_contain_text("2030-01-01")
    shot(page, "custom-fields")
    assert_accessible(page)
    row.get_by_role("button", name="Delete Support tier").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete field").click()
    expect(page.get_by_role("row").filter(has_text="Support tier")).to_have_count(0)
