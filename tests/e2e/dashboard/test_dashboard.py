"""The dashboard in Chromium: real counts of devices enrolled through the agent API,
refreshed live by htmx polling (no page reload)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.factories import Tenant, ok, unique
from tests.integration.agents.helpers import enroll, make_enrollment_key
from tests.integration.web.devices_list.helpers import keep_alive
from tests.support.browser import assert_accessible, shot
from tests.support.server import LiveServer


def test_dashboard_counts_devices_and_refreshes_live(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant
) -> None:
    org = console_tenant.org["id"]
    page = admin_page
    page.goto(f"{console.url}/?org={org}")
    expect(page.get_by_role("link", name="No devices yet — add one")).to_be_visible()

    key = make_enrollment_key(console_admin, org)["key"]
    lost_host = unique("dash-linux")
    lost = ok(enroll(console.url, key, hostname=lost_host))
    lost["hostname"] = lost_host
    alive = [
        ok(enroll(console.url, key, hostname=unique("dash-linux"))),
        ok(enroll(console.url, key, hostname=unique("dash-win"), os_type="windows")),
    ]
    page.evaluate("window.__sameDocument = true")
    with keep_alive(console.url, *alive):
        # The device that never heartbeats goes offline (the server's presence sweep).
        _live_figures(page)
        offline = page.locator(".card", has=page.get_by_role("heading", name="Offline devices"))
        expect(offline.get_by_role("link", name=lost["hostname"])).to_be_visible()
        shot(page, "dashboard")
        assert_accessible(page)

        # A figure links into the list, filtered, scope kept.
        page.locator('[data-figure="status-offline"]').click()
        page.wait_for_url(re.compile(rf"/devices\?org={org}&status=offline$"))
        expect(page.get_by_role("heading", name="1 device", exact=True)).to_be_visible()


def _live_figures(page: Page) -> None:
    # The devices panel polls every 15 s: the figures arrive without a reload.
    total = page.locator('[data-figure="total"] .h1')
    expect(total).to_have_text("3", timeout=25_000)
    expect(page.locator('[data-figure="status-online"] .h1')).to_have_text("2")
    expect(page.locator('[data-figure="status-offline"] .h1')).to_have_text("1")
    expect(page.locator('[data-figure="os-windows"]')).to_contain_text("1")
    expect(page.locator('[data-figure="os-linux"]')).to_contain_text("2")
    assert page.evaluate("window.__sameDocument") is True

    expect(page.get_by_role("heading", name="Failing script runs")).to_be_visible()
    expect(page.get_by_role("heading", name="Recent activity")).to_be_visible()
