"""The device list in Chromium: search, filter, select, bulk tag, live status without
losing the selection, saved views, CSV export and the phone layout."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.factories import Tenant, ok, unique
from tests.integration.agents.helpers import enroll, make_enrollment_key
from tests.integration.web.devices_list.helpers import keep_alive
from tests.support.browser import PHONE, assert_accessible, shot
from tests.support.server import LiveServer


@dataclass
class Fleet:
    org: str
    prefix: str
    linux: list[str]  # host names
    windows: str
    ids: dict[str, str]  # host name -> device id
    agents: dict[str, dict[str, Any]]  # host name -> enroll answer


@pytest.fixture
def fleet(console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant) -> Fleet:
    org = console_tenant.org["id"]
    key = make_enrollment_key(console_admin, org)["key"]
    prefix = unique("web")
    linux = [f"{prefix}-db", f"{prefix}-mail"]
    windows = f"{prefix}-reception"
    agents = {host: ok(enroll(console.url, key, hostname=host)) for host in linux}
    agents[windows] = ok(enroll(console.url, key, hostname=windows, os_type="windows"))
    ids = {host: a["device_id"] for host, a in agents.items()}
    return Fleet(org, prefix, linux, windows, ids, agents)


def rows(page: Page) -> list[str]:
    names: list[str] = page.locator("#device-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.querySelector('a').textContent.trim())"
    )
    return names


def test_search_filter_select_and_bulk_tag(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client, fleet: Fleet
) -> None:
    watched = fleet.linux[1]
    with keep_alive(console.url, fleet.agents[watched]):
        page = admin_page
        page.goto(f"{console.url}/devices?org={fleet.org}")
        expect(page.locator("#device-table tbody tr")).to_have_count(3)
        page.evaluate("window.__sameDocument = true")

        page.get_by_role("searchbox", name="Search devices").fill(fleet.prefix)
        page.get_by_label("Operating system").select_option("linux")
        expect(page).to_have_url(re.compile(r"os_type=linux"))
        expect(page.locator("#device-table tbody tr")).to_have_count(2)
        assert rows(page) == fleet.linux
        assert f"q={fleet.prefix}" in page.url and f"org={fleet.org}" in page.url

        bulk = page.get_by_role("form", name="Bulk actions on the selected devices")
        add = bulk.get_by_role("button", name="Add tag")
        expect(add).to_be_disabled()
        page.get_by_label("Select all devices on this page").check()
        expect(bulk).to_contain_text("2 selected")
        bulk.get_by_label("Tags").fill("Finance")
        add.click()
        expect(page.get_by_role("status").filter(has_text="Tagged 2 of 2 devices")).to_be_visible()
        # The table refreshes with the tags, and the selection survives the refresh.
        expect(page.locator("#device-table .badge", has_text="finance")).to_have_count(2)
        expect(page.get_by_label(f"Select {fleet.linux[0]}")).to_be_checked()
        for host in fleet.linux:
            assert ok(console_admin.get(f"/api/v1/devices/{fleet.ids[host]}"))["tags"] == [
                "finance"
            ]

        status = page.locator(f"#st-{fleet.ids[watched]} [data-status]")
        expect(status).to_have_text("online")

    # It stops heartbeating: the server marks it offline and the row's status changes in
    # place (an out-of-band swap), the table and its selection untouched.
    expect(status).to_have_text("offline", timeout=40_000)
    expect(page.get_by_label(f"Select {fleet.linux[0]}")).to_be_checked()
    assert page.evaluate("window.__sameDocument") is True

    # Sorting is a link in the URL too.
    page.get_by_role("link", name="Name").click()
    expect(page).to_have_url(re.compile(r"sort=-hostname"))
    expect(page.locator("#device-table tbody tr").first).to_contain_text(fleet.linux[1])
    shot(page, "devices-list")
    assert_accessible(page)

    # Decommission asks first.
    page.get_by_label(f"Select {fleet.linux[1]}").check()
    page.get_by_label(f"Select {fleet.linux[0]}").uncheck()
    page.once("dialog", lambda dialog: dialog.accept())
    bulk.get_by_role("button", name="Decommission…").click()
    expect(
        page.get_by_role("status").filter(has_text="Decommissioned 1 of 1 device")
    ).to_be_visible()
    expect(page.locator("#device-table tbody tr")).to_have_count(1)


def test_a_bad_filter_is_explained_in_the_page(
    admin_page: Page, console: LiveServer, fleet: Fleet
) -> None:
    page = admin_page
    page.goto(f"{console.url}/devices?org={fleet.org}")
    page.get_by_label("Custom field").fill("no colon here")
    page.get_by_label("Custom field").press("Enter")
    alert = page.locator("#device-table").get_by_role("alert")
    expect(alert).to_contain_text("is not a custom field filter")


def test_saved_view_round_trip(admin_page: Page, console: LiveServer, fleet: Fleet) -> None:
    page = admin_page
    page.goto(f"{console.url}/devices?org={fleet.org}")
    page.get_by_label("Operating system").select_option("windows")
    expect(page.locator("#device-table tbody tr")).to_have_count(1)
    name = unique("Reception PCs")
    page.get_by_label("Name of the new saved view").fill(name)
    page.get_by_role("button", name="Save view").click()
    view = page.get_by_role("link", name=name)
    expect(view).to_be_visible()

    page.goto(f"{console.url}/devices?org={fleet.org}")
    expect(page.locator("#device-table tbody tr")).to_have_count(3)
    page.get_by_role("link", name=name).click()
    expect(page).to_have_url(re.compile(r"os_type=windows"))
    expect(page.get_by_label("Operating system")).to_have_value("windows")
    assert rows(page) == [fleet.windows]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete the saved view {name}").click()
    expect(page.get_by_role("link", name=name)).to_have_count(0)


def test_export_downloads_the_filtered_csv(
    admin_page: Page, console: LiveServer, fleet: Fleet
) -> None:
    page = admin_page
    page.goto(f"{console.url}/devices?org={fleet.org}&os_type=linux")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".csv")
    with open(path, newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert sorted(r["hostname"] for r in table) == fleet.linux


def test_phone_layout(signed_in: Callable[..., Page], console: LiveServer, fleet: Fleet) -> None:
    page = signed_in(viewport=PHONE)
    page.goto(f"{console.url}/devices?org={fleet.org}")
    expect(page.locator("#device-table tbody tr")).to_have_count(3)
    expect(page.get_by_role("link", name=fleet.windows)).to_be_visible()
    # The page itself does not scroll sideways; the table scrolls inside its card.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "devices-list-phone")
    assert_accessible(page)
