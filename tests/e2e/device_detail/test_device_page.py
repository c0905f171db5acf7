"""The device page in a real browser, for the real agent running on this machine: its
real host name, live metrics charts, its software, and "Collect inventory" queued from
the page and watched to completion in the commands tab."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.factories import Tenant, ok
from tests.integration.agent_e2e.conftest import AgentProcess, enrollment_key, eventually
from tests.support.browser import PHONE, assert_accessible, shot
from tests.support.server import LiveServer


@pytest.fixture
def local_agent(
    console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """This machine enrolled in a fresh tenant, its agent running; the device as the API
    shows it once its first heartbeats and inventory are in."""
    proc = AgentProcess(home=tmp_path / "agent")
    proc.enroll(console.url, enrollment_key(console_admin, console_tenant.org["id"]))
    proc.start()
    try:

        def ready() -> dict[str, Any] | None:
            items = ok(
                console_admin.get("/api/v1/devices", params={"org_id": console_tenant.org["id"]})
            )["items"]
            if not items:
                return None
            device: dict[str, Any] = items[0]
            software = ok(console_admin.get(f"/api/v1/devices/{device['id']}/software"))
            return device if device["status"] == "online" and software["total"] else None

        yield eventually(ready, timeout=90, what=f"the local agent online\n{proc.log()[-2000:]}")
    finally:
        proc.stop()
        print(f"agent log (tail):\n{proc.log()[-4000:]}")  # shown when the test fails


def metric_points(admin: httpx.Client, device_id: str) -> int:
    body = ok(admin.get(f"/api/v1/devices/{device_id}/metrics", params={"resolution": "raw"}))
    return len(body["points"])


def test_device_page_of_the_local_agent(
    console: LiveServer,
    console_admin: httpx.Client,
    local_agent: dict[str, Any],
    admin_page: Page,
    signed_in: Callable[..., Page],
) -> None:
    page = admin_page
    device_id = local_agent["id"]
    hostname = socket.gethostname()
    assert local_agent["hostname"] == hostname

    # Overview: the real host name and live status.
    page.goto(f"{console.url}/devices/{device_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(hostname)
    # Refreshed every 10 s: a heartbeat late on a busy machine may show offline for a moment.
    expect(page.locator("#device-status [data-status]")).to_have_text("online", timeout=30_000)
    expect(page.get_by_text("Operating system and uptime")).to_be_visible()
    shot(page, "device-overview")
    assert_accessible(page)

    # Metrics: a uPlot canvas per chart once a few heartbeats are stored.
    eventually(lambda: metric_points(console_admin, device_id) >= 3, timeout=30, what="metrics")
    page.get_by_role("navigation", name="Device sections").get_by_role(
        "link", name="Metrics"
    ).click()
    expect(page).to_have_url(f"{console.url}/devices/{device_id}/metrics")
    cpu = page.locator('[data-chart="cpu"]')
    expect(cpu.locator("canvas")).to_have_count(1)
    expect(cpu.locator("[data-chart-summary]")).to_contain_text("now")
    expect(page.locator('[data-chart="net"] canvas')).to_have_count(1)
    expect(page.locator("[data-metrics-state]")).to_contain_text("samples")
    page.get_by_role("link", name="1h").click()
    expect(page).to_have_url(f"{console.url}/devices/{device_id}/metrics?range=1h")
    expect(page.locator('[data-chart="ram"] canvas')).to_have_count(1)
    shot(page, "device-metrics")
    assert_accessible(page)

    # Software: the real packages, searchable.
    page.get_by_role("navigation", name="Device sections").get_by_role(
        "link", name="Software"
    ).click()
    first = page.locator("tbody tr td").first
    expect(first).to_be_visible()
    name = first.inner_text().split(" system")[0].strip()
    page.get_by_label("Search software by name or publisher").fill(name)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(f"{console.url}/devices/{device_id}/software?q={name}&sort=name")
    expect(page.locator("tbody tr td").first).to_contain_text(name)
    shot(page, "device-software")

    # Collect inventory from the header, confirmed in its dialog, watched to completion.
    page.get_by_role("button", name="Collect inventory").first.click()
    dialog = page.get_by_role("dialog", name="Collect inventory now?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Collect inventory").click()
    expect(page.locator("#flash-area")).to_contain_text("Collect inventory was queued")
    expect(page.locator("#command-status [data-status]")).to_have_text("completed", timeout=60_000)
    expect(page.get_by_text("Exit code")).to_be_visible()
    page.get_by_role("link", name="← All commands").click()
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("Collect inventory")
    expect(row.locator("[data-status]")).to_have_text("completed")
    shot(page, "device-commands")
    assert_accessible(page)

    # A phone: the page fits the screen, the tabs scroll sideways.
    phone = signed_in(viewport=PHONE)
    phone.goto(f"{console.url}/devices/{device_id}")
    expect(phone.get_by_role("heading", level=1)).to_have_text(hostname)
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the phone"
    shot(phone, "device-overview-phone")
