"""The device list page over HTTP: filters, search, sort and pages from the URL, the
table fragment for htmx, scope isolation, bad filters, live statuses."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.factories import Tenant, make_member, make_site, make_tenant, ok
from tests.integration.scripts.helpers import FakeAgent, enroll_device
from tests.integration.web.devices_list.helpers import (
    TABLE,
    console,
    member_console,
    row_ids,
    set_device,
)
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


@dataclass
class Fleet:
    tenant: Tenant
    site2: dict[str, object]
    alpha: FakeAgent  # linux, site 1, tag "finance"
    bravo: FakeAgent  # windows, site 2, offline
    charlie: FakeAgent  # linux, site 2, pending reboot, custom display name


@pytest.fixture
def fleet(admin: httpx.Client) -> Fleet:
    tenant = make_tenant(admin)
    site2 = make_site(admin, tenant.org["id"], name="Branch office")
    alpha = enroll_device(admin, tenant, hostname=f"alpha-{uuid.uuid4().hex[:6]}")
    bravo = enroll_device(
        admin, tenant, site=site2, os_type="windows", hostname=f"bravo-{uuid.uuid4().hex[:6]}"
    )
    charlie = enroll_device(admin, tenant, site=site2, hostname=f"charlie-{uuid.uuid4().hex[:6]}")
    ok(admin.patch(f"/api/v1/devices/{alpha.device_id}", json={"tags": ["finance"]}))
    ok(admin.patch(f"/api/v1/devices/{charlie.device_id}", json={"display_name": "Zulu kiosk"}))
    return Fleet(tenant, site2, alpha, bravo, charlie)


def ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return row_ids(r.text)


def test_filters_search_and_sort_come_from_the_url(server: LiveServer, fleet: Fleet) -> None:
    set_device(server, fleet.bravo.device_id, status="offline")
    set_device(server, fleet.charlie.device_id, pending_reboot=True)
    org = fleet.tenant.org["id"]
    a, b, c = fleet.alpha.device_id, fleet.bravo.device_id, fleet.charlie.device_id
    with console(server) as web:
        page = web.page("/devices", org=org)
        assert page.status_code == 200
        assert row_ids(page.text) == [a, b, c]  # host name order
        assert 'id="bulk-form"' in page.text
        assert ids(web.page("/devices", org=org, sort="-hostname")) == [c, b, a]
        assert ids(web.page("/devices", org=org, os_type="windows")) == [b]
        assert ids(web.page("/devices", org=org, status="offline")) == [b]
        assert ids(web.page("/devices", org=org, status="online,offline")) == [a, b, c]
        assert ids(web.page("/devices", org=org, tag="finance")) == [a]
        assert ids(web.page("/devices", org=org, has_pending_reboot="true")) == [c]
        assert ids(web.page("/devices", org=org, site_id=fleet.site2["id"])) == [b, c]
        assert ids(web.page("/devices", org=org, q="zulu")) == [c]
        assert ids(web.page("/devices", org=org, q="bravo-")) == [b]
        # "Branch office" sorts before the first site ("Site-…"); then by host name.
        assert ids(web.page("/devices", org=org, sort="site,hostname")) == [b, c, a]
        # Pages: one row per page, the second page holds the second device.
        second = web.page("/devices", org=org, per_page="1", page="2")
        assert ids(second) == [b]
        assert "of 3" in second.text
        assert 'rel="prev"' in second.text and 'rel="next"' in second.text
        # The export link carries the same filters and the scope.
        filtered = web.page("/devices", org=org, os_type="windows", sort="-last_seen_at")
        (href,) = re.findall(r'href="(/api/v1/devices/export\?[^"]+)"', filtered.text)
        query = parse_qs(urlsplit(html.unescape(href)).query)
        assert query == {
            "os_type": ["windows"],
            "partner_id": [fleet.tenant.partner["id"]],
            "org_id": [org],
            "sort": ["-last_seen_at"],
        }


def test_the_table_fragment_for_htmx_and_its_canonical_url(
    server: LiveServer, fleet: Fleet
) -> None:
    org = fleet.tenant.org["id"]
    with console(server) as web:
        r = web.get(
            "/devices",
            params={"org": org, "q": "", "status": "", "os_type": "linux", "sort": ""},
            headers=TABLE,
        )
    assert r.status_code == 200
    assert "<html" not in r.text
    assert r.text.lstrip().startswith('<div id="device-table"')
    assert row_ids(r.text) == [fleet.alpha.device_id, fleet.charlie.device_id]
    # Empty fields are dropped from the address the browser shows; the scope stays.
    assert r.headers["HX-Push-Url"] == f"/devices?org={org}&os_type=linux"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"custom_field": "no-colon"}, "is not a custom field filter"),
        ({"custom_field": "nosuchfield:1"}, "There is no custom field"),
        ({"sort": "password"}, "cannot sort by"),
        ({"per_page": "many"}, "is not a number"),
        ({"page": "0"}, "give a number from 1"),
        ({"group_id": "not-a-group"}, "is not a valid UUID"),
        ({"has_pending_reboot": "maybe"}, "is not a valid bool"),
        ({"last_seen_after": "yesterday"}, "is not a date-time"),
    ],
)
def test_a_bad_filter_is_a_4xx_in_words(
    server: LiveServer, tenant: Tenant, params: dict[str, str], words: str
) -> None:
    with console(server) as web:
        page = web.page("/devices", org=tenant.org["id"], **params)
        fragment = web.get("/devices", params={"org": tenant.org["id"], **params}, headers=TABLE)
    for r in (page, fragment):
        assert r.status_code in (400, 422), r.text
        assert r.headers["content-type"].startswith("text/html")
        assert words in r.text
        assert "Clear the filters" in r.text


def test_another_tenants_devices_never_appear(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, fleet: Fleet
) -> None:
    other = make_tenant(admin)
    stranger = enroll_device(admin, other, hostname=f"stranger-{uuid.uuid4().hex[:6]}")
    org = fleet.tenant.org["id"]
    with console(server) as web:
        assert stranger.device_id not in ids(web.page("/devices", org=org))
        assert stranger.device_id not in ids(web.page("/devices", org=org, q="stranger-"))
        # A filter naming the other tenant's site cannot widen the scope.
        assert ids(web.page("/devices", org=org, site_id=other.site["id"])) == []
        r = web.page("/devices", org=other.org["id"], org_id=org)
        assert r.status_code == 422
        assert "outside the current scope" in r.text
    tech = make_member(admin, mailbox, role="Org Technician", org_id=org)
    with member_console(server, tech) as web:
        mine = ids(web.page("/devices"))
        assert set(mine) == {fleet.alpha.device_id, fleet.bravo.device_id, fleet.charlie.device_id}
        assert ids(web.page("/devices", q="stranger-")) == []
        assert web.page("/devices", org=other.org["id"]).status_code == 404
        assert ids(web.page("/devices", org_id=other.org["id"])) == []
        live = web.get(
            "/devices/live", params={"ids": f"{stranger.device_id},{fleet.alpha.device_id}"}
        )
    assert live.status_code == 200
    assert f'id="st-{fleet.alpha.device_id}"' in live.text
    assert stranger.device_id not in live.text


def test_live_statuses_swap_out_of_band(server: LiveServer, fleet: Fleet) -> None:
    a = fleet.alpha.device_id
    set_device(server, a, status="offline", pending_reboot=True)
    with console(server) as web:
        r = web.get(
            "/devices/live", params={"ids": f"{a},not-an-id", "org": fleet.tenant.org["id"]}
        )
    assert r.status_code == 200
    assert f'<span id="st-{a}"' in r.text
    assert 'hx-swap-oob="true"' in r.text
    assert 'data-status="offline"' in r.text
    assert "reboot pending" in r.text
    assert f'id="seen-{a}"' in r.text


def test_empty_install_offers_to_add_a_device(server: LiveServer, tenant: Tenant) -> None:
    with console(server) as web:
        r = web.page("/devices", org=tenant.org["id"])
        filtered = web.page("/devices", org=tenant.org["id"], os_type="macos")
    assert r.status_code == 200
    assert "No devices yet — add one" in r.text
    assert f'href="/settings/enrollment-keys?org={tenant.org["id"]}"' in r.text
    assert "No device matches these filters" in filtered.text
