"""API keys in Chromium: create one with chosen permissions, copy it from the page it is
shown on once, use it, revoke it."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.factories import Tenant, client, ok, unique
from tests.support.browser import assert_accessible, shot
from tests.support.server import LiveServer


def test_create_copy_use_and_revoke_a_key(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant
) -> None:
    org = console_tenant.org
    name = unique("integration")
    page = admin_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    page.goto(f"{console.url}/settings/api-keys?org={org['id']}")
    page.get_by_role("link", name="New API key").click()
    page.get_by_label("Name", exact=True).fill(name)
    expect(page.get_by_label("Applies to", exact=True)).to_have_value(f"org:{org['id']}")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("List should have at least 1 item")).to_be_visible()
    page.get_by_role("checkbox", name="Read devices devices:read").check()
    page.get_by_role("checkbox", name="Read scripts scripts:read").check()
    page.get_by_label("Valid for", exact=True).select_option("30d")
    page.get_by_role("button", name="Create key").click()

    expect(
        page.get_by_role("heading", name="Copy the key now: it is shown only once")
    ).to_be_visible()
    secret = page.get_by_label("API key", exact=True).input_value()
    assert secret.startswith("brz_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert_accessible(page)
    with client(console.url, secret) as api:
        assert api.get("/api/v1/devices").status_code == 200

    page.get_by_role("link", name="Done").click()
    row = page.locator("tr", has_text=name)
    expect(row).to_contain_text("2 permissions")
    assert secret not in page.content()
    shot(page, "settings-api-keys")
    assert_accessible(page)
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name=f"Revoke API key {name}").click()
    expect(page.get_by_text(f"API key {name} revoked")).to_be_visible()
    with client(console.url, secret) as api:
        assert api.get("/api/v1/devices").status_code == 401
    keys = ok(console_admin.get("/api/v1/api-keys", params={"q": name}))["items"]
    assert keys[0]["revoked_at"] is not None
