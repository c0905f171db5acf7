"""The tenant tree in Chromium: add an organization and a site, see a refusal explained,
delete with confirmation."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.factories import make_partner, ok, unique
from tests.support.browser import PHONE, assert_accessible, shot
from tests.support.server import LiveServer


def test_build_and_prune_the_tree(
    admin_page: Page, console: LiveServer, console_admin: httpx.Client
) -> None:
    partner = make_partner(console_admin)
    page = admin_page
    page.goto(f"{console.url}/settings/tenancy?partner={partner['id']}")
    expect(page.get_by_role("heading", name=partner["name"], level=1)).to_be_visible()

    org_name = unique("Org")
    page.get_by_role("link", name="Add organization").click()
    expect(page.get_by_label("Partner", exact=True)).to_have_value(partner["id"])
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_text("Field required")).to_be_visible()  # the name was empty
    page.get_by_label("Name", exact=True).fill(org_name)
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_text(f"Organization {org_name} created")).to_be_visible()

    page.get_by_role("link", name="Add site").click()
    page.get_by_label("Name", exact=True).fill("Warehouse")
    page.get_by_label("Time zone", exact=True).fill("Pacific/Nowhere")
    page.get_by_role("button", name="Create site").click()
    expect(page.get_by_text("'Pacific/Nowhere' is not a known IANA time zone")).to_be_visible()
    page.get_by_label("Time zone", exact=True).fill("Asia/Tokyo")
    page.get_by_label("City", exact=True).fill("Chiba")
    page.get_by_role("button", name="Create site").click()
    sites = page.locator("#sites")
    expect(sites.get_by_role("row", name="Warehouse")).to_contain_text("Asia/Tokyo")
    expect(sites).to_contain_text("Chiba")
    shot(page, "settings-tenancy")
    assert_accessible(page)

    # the partner cannot go while it has an organization: the refusal is explained
    page.get_by_role("link", name=partner["name"], exact=True).click()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Delete partner {partner['name']}").click()
    alert = page.locator("#flash-area [role=alert]")
    expect(alert).to_contain_text("still has 1 organization(s); delete them first")

    page.get_by_role("link", name=org_name, exact=True).click()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete site Warehouse").click()
    expect(page.get_by_text("Site Warehouse deleted")).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Delete organization {org_name}").click()
    expect(page.get_by_text(f"Organization {org_name} and its sites deleted")).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Delete partner {partner['name']}").click()
    expect(page.get_by_text(f"Partner {partner['name']} deleted")).to_be_visible()
    assert console_admin.get(f"/api/v1/partners/{partner['id']}").status_code == 404


def test_the_tree_on_a_phone(
    signed_in: Callable[..., Page], console: LiveServer, console_admin: httpx.Client
) -> None:
    partner = make_partner(console_admin)
    ok(
        console_admin.post("/api/v1/orgs", json={"partner_id": partner["id"], "name": "Phone Org"}),
        201,
    )
    page = signed_in(viewport=PHONE)
    page.goto(f"{console.url}/settings/tenancy?partner={partner['id']}")
    expect(page.get_by_role("link", name="Phone Org", exact=True)).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, "the page scrolls sideways on a phone"
    assert_accessible(page)
