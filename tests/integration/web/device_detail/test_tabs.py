"""Every tab of the device page renders the device's real data, as a page and as the
htmx fragment; searching, paging and bad parameters behave."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.factories import Tenant, ok
from tests.integration.web.device_detail.helpers import (
    HTMX,
    Console,
    Fleet,
    console,
    device_with_data,
)
from tests.support.server import LiveServer


@pytest.fixture(scope="module")
def fleet(server: LiveServer, admin: httpx.Client) -> Fleet:
    from tests.factories import make_tenant

    return device_with_data(server, admin, make_tenant(admin))


@pytest.fixture
def web(server: LiveServer) -> Iterator[Console]:
    c = console(server)
    yield c
    c.close()


def text_of(r: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", r.text))


def test_overview_shows_the_device(web: Console, fleet: Fleet, admin: httpx.Client) -> None:
    device = ok(admin.get(f"/api/v1/devices/{fleet.agent.device_id}"))
    r = web.get(f"/devices/{fleet.agent.device_id}")
    assert r.status_code == 200, r.text
    page = text_of(r)
    assert f'<h1 class="page-title">{device["hostname"]}</h1>' in page
    assert fleet.agent.tenant.org["name"] in page
    assert fleet.agent.tenant.site["name"] in page
    assert device["agent_version"] in page
    assert "alice" in page  # last user from the heartbeat
    assert 'data-status="online"' in page
    assert 'hx-get="/devices/' in page and 'hx-trigger="every 10s"' in page  # live status
    assert 'aria-current="page">Overview<' in page
    # the header actions of an administrator
    for label in ("Run script", "Collect inventory", "Reboot", "Shut down", "Decommission"):
        assert label in page, label
    assert f'href="/scripts/run?device_ids={fleet.agent.device_id}"' in page


def test_inventory_tabs_show_what_the_agent_uploaded(web: Console, fleet: Fleet) -> None:
    base = f"/devices/{fleet.agent.device_id}"
    hardware = text_of(web.get(f"{base}/hardware"))
    assert fleet.cpu_model in hardware
    assert 'aria-current="page">Hardware<' in hardware
    software = text_of(web.get(f"{base}/software"))
    assert html.unescape(fleet.package) in software
    network = text_of(web.get(f"{base}/network"))
    assert fleet.interface in network
    disks = text_of(web.get(f"{base}/disks"))
    assert fleet.mountpoint in disks
    assert 'role="progressbar"' in disks
    history = text_of(web.get(f"{base}/history"))
    assert "baseline" in history
    metrics = web.get(f"{base}/metrics?range=1h")
    assert metrics.status_code == 200
    assert 'data-island="metrics_chart"' in metrics.text
    assert f'data-device-id="{fleet.agent.device_id}"' in metrics.text
    assert 'data-range="1h"' in metrics.text


def test_a_tab_swapped_by_htmx_is_a_fragment(web: Console, fleet: Fleet) -> None:
    r = web.get(f"/devices/{fleet.agent.device_id}/software", headers=HTMX)
    assert r.status_code == 200
    assert "<html" not in r.text
    assert 'aria-current="page">Software<' in r.text
    assert "<title>" in r.text  # htmx updates the document title
    restore = web.get(
        f"/devices/{fleet.agent.device_id}/software",
        headers={**HTMX, "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text


def test_software_is_searchable_and_paged(web: Console, fleet: Fleet, admin: httpx.Client) -> None:
    base = f"/devices/{fleet.agent.device_id}/software"
    found = text_of(web.get(base, params={"q": fleet.package}))
    assert html.unescape(fleet.package) in found
    none = text_of(web.get(base, params={"q": "no-such-package-xyz"}))
    assert "No software matches “no-such-package-xyz”" in none
    total = ok(admin.get(f"/api/v1/devices/{fleet.agent.device_id}/software"))["total"]
    if total > 50:
        second = text_of(web.get(base, params={"page": 2}))
        assert "Page 2 of" in second
    else:
        assert f"{total} packages" in text_of(web.get(base))


def test_metrics_range_and_bad_parameters_are_4xx(web: Console, fleet: Fleet) -> None:
    base = f"/devices/{fleet.agent.device_id}"
    for path in (
        f"{base}/metrics?range=2y",
        f"{base}/software?page=0",
        f"{base}/history?category=nonsense",
        f"{base}/commands?status=exploded",
    ):
        r = web.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
    assert web.get("/devices/not-a-device").status_code in (404, 422)
    assert web.get(f"{base}/no-such-tab").status_code == 404


def test_history_filters_by_category(web: Console, fleet: Fleet) -> None:
    base = f"/devices/{fleet.agent.device_id}/history"
    assert "baseline" in text_of(web.get(base, params={"category": "inventory"}))
    assert "No changes match" in text_of(web.get(base, params={"category": "users", "q": "zzz"}))


def test_unknown_device_is_a_404_page(web: Console) -> None:
    r = web.get("/devices/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")


def test_signed_out_goes_to_sign_in(anon: httpx.Client, tenant: Tenant) -> None:
    r = anon.get(
        "/devices/00000000-0000-4000-8000-000000000000/metrics", headers={"Accept": "text/html"}
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
