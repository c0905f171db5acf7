"""The roles pages in Chromium: built-in roles read-only, a custom role made with the
keyboard in the permission matrix, and the server's refusal when an Org Admin grants what
they do not hold; the users page on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.factories import MEMBER_PASSWORD, Tenant, make_member, ok, unique
from tests.support.browser import PHONE, assert_accessible, shot
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


def test_custom_role_built_with_the_keyboard_in_the_matrix(
    console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant, admin_page: Page
) -> None:
    page = admin_page
    org = console_tenant.org["id"]
    page.goto(f"{console.url}/settings/roles?org={org}")
    table = page.get_by_role("table")
    expect(table.get_by_role("row").filter(has_text="Org Viewer")).to_contain_text("Built-in")
    assert_accessible(page)
    page.get_by_role("link", name="Org Viewer").click()
    expect(page.get_by_text("Built-in · read-only")).to_be_visible()
    expect(page.get_by_role("checkbox")).to_have_count(0)
    assert_accessible(page)

    page.goto(f"{console.url}/settings/roles?org={org}")
    page.get_by_role("link", name="New custom role").click()
    name = unique("Helpdesk")
    page.get_by_label("Name").fill(name)
    expect(page.get_by_label("Owner", exact=True)).to_have_value(f"org:{org}")
    start = page.get_by_role("checkbox", name="Devices: read")
    start.focus()
    page.keyboard.press("Space")  # devices:read
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("checkbox", name="Devices: write")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("checkbox", name="Scripts: write")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    expect(page.get_by_role("checkbox", name="Devices: execute")).to_be_focused()
    page.keyboard.press("Space")  # devices:execute
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Home")
    expect(page.get_by_role("checkbox", name="Scripts: read")).to_be_focused()
    page.keyboard.press("Space")  # scripts:read
    for label in ("Devices: read", "Devices: execute", "Scripts: read"):
        expect(page.get_by_role("checkbox", name=label)).to_be_checked()
    expect(page.get_by_role("checkbox", name="Devices: write")).not_to_be_checked()
    assert_accessible(page)
    shot(page, "settings-roles-matrix")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("status").filter(has_text=f"Role '{name}' created")).to_be_visible()
    role_id = page.url.split("?")[0].rsplit("/", 1)[1]
    got = ok(console_admin.get(f"/api/v1/roles/{role_id}"))
    assert got["permissions"] == ["devices:execute", "devices:read", "scripts:read"]
    assert got["org_id"] == org


def test_org_admin_sees_the_refusal_of_a_permission_they_lack(
    console: LiveServer,
    console_admin: httpx.Client,
    console_tenant: Tenant,
    mailbox: Mailbox,
    signed_in: Callable[..., Page],
) -> None:
    member = make_member(console_admin, mailbox, role="Org Admin", org_id=console_tenant.org["id"])
    email = member.email  # type: ignore[attr-defined]
    member.close()
    page = signed_in(email, MEMBER_PASSWORD)
    page.goto(f"{console.url}/settings/roles/new")
    page.get_by_label("Name").fill(unique("Too much"))
    lacking = page.get_by_role("checkbox", name="Organizations: delete")
    expect(lacking).to_have_attribute("aria-describedby", "perm-not-held-note")
    lacking.check()
    page.get_by_role("checkbox", name="Devices: read").check()
    page.get_by_role("button", name="Create role").click()
    refusal = page.get_by_role("alert").filter(
        has_text="You cannot grant permissions you do not hold"
    )
    expect(refusal).to_contain_text("orgs:delete")
    expect(page.get_by_role("checkbox", name="Organizations: delete")).to_be_checked()  # kept
    expect(
        page.get_by_role("status").filter(has_text="grants permissions you do not hold")
    ).to_be_visible()


def test_users_page_on_a_phone(
    console: LiveServer, console_tenant: Tenant, signed_in: Callable[..., Page]
) -> None:
    page = signed_in(viewport=PHONE)
    page.goto(f"{console.url}/settings/users?org={console_tenant.org['id']}")
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Invite a user").first).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page scrolls sideways on a phone ({width}px)"
    assert_accessible(page)
    shot(page, "settings-users-phone")
    page.get_by_role("link", name="Invite a user").first.click()
    expect(page.get_by_label("Email address")).to_be_visible()
    assert_accessible(page)
    assert re.search(r"/settings/users/invite", page.url)
