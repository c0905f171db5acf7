"""The console's frame in Chromium: command palette, theme, scope switcher, phone layout,
keyboard access and error pages."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.factories import Tenant, ok
from tests.integration.agents.helpers import enroll, make_enrollment_key
from tests.support.browser import PHONE, assert_accessible, shot
from tests.support.server import LiveServer


def test_palette_jumps_to_a_device_with_the_keyboard(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant
) -> None:
    key = make_enrollment_key(console_admin, console_tenant.org["id"])["key"]
    hostname = "palette-target-7731"
    device_id = ok(enroll(console.url, key, hostname=hostname))["device_id"]
    page = admin_page
    page.goto(f"{console.url}/")
    page.keyboard.press("Control+k")
    palette = page.get_by_role("dialog", name="Go to…")
    expect(palette).to_be_visible()
    expect(palette.get_by_role("combobox")).to_be_focused()
    page.keyboard.type("palette-target")
    option = palette.get_by_role("option", name=hostname)
    expect(option).to_be_visible()
    shot(page, "command-palette")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/devices/{device_id}")


def test_palette_offers_pages_and_actions_by_name(admin_page: Page, console: LiveServer) -> None:
    page = admin_page
    page.goto(f"{console.url}/")
    page.get_by_role("button", name="Open the command palette (Ctrl+K)").click()
    palette = page.get_by_role("dialog", name="Go to…")
    expect(palette.get_by_role("combobox")).to_be_focused()
    page.keyboard.type("audit")
    palette.get_by_role("option", name="Audit log").click()
    page.wait_for_url("**/settings/audit")


def test_theme_switch_sticks_across_pages(admin_page: Page, console: LiveServer) -> None:
    page = admin_page
    page.goto(f"{console.url}/")
    html = page.locator("html")
    before = html.get_attribute("data-bs-theme")
    page.locator("[data-theme-toggle]").click()
    after = "dark" if before == "light" else "light"
    expect(html).to_have_attribute("data-bs-theme", after)
    page.reload()
    expect(html).to_have_attribute("data-bs-theme", after)
    shot(page, f"dashboard-{after}")
    assert_accessible(page)


def test_scope_switcher_scopes_every_link(
    admin_page: Page, console: LiveServer, console_tenant: Tenant
) -> None:
    page = admin_page
    page.goto(f"{console.url}/devices")
    page.get_by_role("button", name="Scope: All organizations").click()
    page.get_by_role("searchbox", name="Search organizations").fill(console_tenant.org["name"])
    page.get_by_role("link", name=console_tenant.org["name"], exact=True).click()
    org_id = console_tenant.org["id"]
    page.wait_for_url(f"**/devices?org={org_id}")
    expect(page.locator("[data-scope-label]")).to_contain_text(console_tenant.org["name"])
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Scripts")).to_have_attribute(
        "href", f"/scripts?org={org_id}"
    )


def test_phone_layout_hides_the_menu_behind_a_button(
    signed_in: Callable[..., Page], console: LiveServer
) -> None:
    page = signed_in(viewport=PHONE)
    page.goto(f"{console.url}/")
    devices_link = page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Devices"
    )
    expect(devices_link).to_be_hidden()
    page.get_by_role("button", name="Show navigation").click()
    expect(devices_link).to_be_visible()
    shot(page, "navigation-phone")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page scrolls sideways on a phone ({width}px)"


def test_keyboard_user_can_skip_to_the_content(admin_page: Page, console: LiveServer) -> None:
    page = admin_page
    page.goto(f"{console.url}/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


def test_missing_page_explains_itself(admin_page: Page, console: LiveServer) -> None:
    page = admin_page
    response = page.goto(f"{console.url}/devices/00000000-0000-0000-0000-000000000000")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_text("belongs to an organization you cannot see")).to_be_visible()
    assert_accessible(page)
    shot(page, "error-not-found")
