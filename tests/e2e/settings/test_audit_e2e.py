"""The audit log in Chromium: filter it, open a row's details, and export exactly the
rows shown as CSV and JSON downloads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.factories import Tenant, make_site, unique
from tests.support.browser import assert_accessible, shot
from tests.support.server import LiveServer


def test_filter_details_and_export_the_rows_shown(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant
) -> None:
    org = console_tenant.org["id"]
    names = [unique("audit-e2e") for _ in range(2)]
    for name in names:
        make_site(console_admin, org, name=name)
    page = admin_page
    page.goto(f"{console.url}/settings/audit?org={org}")
    page.get_by_label("Action", exact=True).fill("site.*")
    page.get_by_label("Result", exact=True).select_option("success")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**action=site.*")
    rows = page.locator("tr[data-audit-id]")
    expect(rows).to_have_count(3)  # the tenant's first site and these two
    shown = sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.auditId)"))
    for name in names:
        expect(page.locator("tr[data-audit-id]", has_text=name)).to_be_visible()

    first = rows.first
    first.get_by_role("button", name="Details of site.create", exact=False).click()
    details = page.locator("[data-audit-details]").first
    expect(details).to_be_visible()
    assert json.loads(details.inner_text()) is not None
    shot(page, "settings-audit")
    assert_accessible(page)

    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    with Path(download.path()).open(newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert sorted(r["id"] for r in exported) == shown
    assert {r["action"] for r in exported} == {"site.create"}
    assert {r["resource_name"] for r in exported} >= set(names)

    with page.expect_download() as info:
        page.get_by_role("link", name="Export JSON").click()
    as_json = json.loads(Path(info.value.path()).read_text())
    assert sorted(r["id"] for r in as_json) == shown
