"""Enroll this machine from the enrollment-key page, in Chromium, with the real agent.

The page's one-line command is `curl -fsSL <server>/api/v1/agents/install.sh | sudo sh -s
-- --server <server> --key <key>`. As shown it installs into /opt/breeze-agent,
/etc/breeze-agent and a systemd unit as root; the test runs the same pipeline (the same
curl, the same script, the same --server and --key read from the page) without sudo and
with the script's own `--prefix <temp dir> --no-service`, so nothing outside a temporary
directory changes. The real agent then runs with the config the installer wrote.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Dialog, Page, expect

from breeze_agent.config import load_config, state_path
from breeze_agent.state import load_state
from tests.factories import Tenant, ok
from tests.integration.agent_e2e.conftest import AgentProcess, eventually
from tests.integration.installer.test_installer import python_for_endpoint
from tests.support.browser import PHONE, assert_accessible, shot
from tests.support.server import LiveServer


def _split(command: str) -> tuple[list[str], list[str]]:
    """(curl argv, installer arguments) of the page's `curl ... | sudo sh -s -- ...`."""
    fetch, pipe, install = command.partition(" | ")
    assert pipe, command
    curl, sh = shlex.split(fetch), shlex.split(install)
    assert curl[:2] == ["curl", "-fsSL"] and len(curl) == 3, command
    assert sh[:4] == ["sudo", "sh", "-s", "--"], command
    return curl, sh[4:]


def test_enroll_this_machine_from_the_install_command(
    admin_page: Page,
    console: LiveServer,
    console_admin: httpx.Client,
    console_tenant: Tenant,
    tmp_path: Path,
) -> None:
    org = console_tenant.org
    page = admin_page
    page.goto(f"{console.url}/settings/enrollment-keys?org={org['id']}")
    page.get_by_role("link", name="New enrollment key").first.click()
    page.get_by_label("Name", exact=True).fill("This machine")
    expect(page.get_by_label("Organization", exact=True)).to_have_value(org["id"])
    page.get_by_label("Site", exact=True).select_option(label=console_tenant.site["name"])
    page.get_by_label("Maximum enrollments", exact=True).fill("1")
    page.get_by_role("button", name="Create key").click()

    expect(
        page.get_by_role("heading", name="Copy the key now: it is shown only once")
    ).to_be_visible()
    command = page.get_by_label("Install command", exact=True).input_value()
    key = page.get_by_label("Enrollment key", exact=True).input_value()
    copy = page.locator("[data-copy='#install-command']")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert_accessible(page)

    curl, args = _split(command)
    assert curl[2] == f"{console.url}/api/v1/agents/install.sh"
    assert args == ["--server", console.url, "--key", key]

    prefix = tmp_path / "breeze-agent"
    extra = ["--prefix", str(prefix), "--no-service", "--python", python_for_endpoint()]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BREEZE_", "PIP_"))}
    installed = subprocess.run(
        ["sh", "-c", f"{shlex.join(curl)} | sh -s -- {shlex.join(args + extra)}"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=clean,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    config = load_config(prefix / "etc" / "agent.json")
    assert config.server_url == console.url

    hostname = socket.gethostname()
    device = ok(console_admin.get(f"/api/v1/devices/{config.device_id}"))
    assert (device["hostname"], device["org_id"], device["site_id"]) == (
        hostname,
        org["id"],
        console_tenant.site["id"],
    )

    agent = AgentProcess(home=prefix / "etc")
    agent.start()
    try:
        # a heartbeat of the running agent (enrolling alone marks the device online)
        eventually(
            lambda: load_state(state_path(agent.config_path)).last_heartbeat_ok,
            timeout=60,
            what="the agent's first heartbeat",
        )
        assert ok(console_admin.get(f"/api/v1/devices/{config.device_id}"))["status"] == "online"
        page.goto(f"{console.url}/devices?org={org['id']}")
        row = page.locator("tr", has_text=hostname)
        expect(row.first).to_be_visible()
        expect(row.first).to_contain_text("online")
    finally:
        assert agent.stop() == 0, agent.log()

    # the list shows the key used up (1 of 1) and never the secret
    page.goto(f"{console.url}/settings/enrollment-keys?org={org['id']}")
    row = page.locator("tr", has_text="This machine")
    expect(row).to_contain_text("1 / 1")
    expect(row.locator("[data-status]")).to_have_text("used up")
    assert key not in page.content()
    shot(page, "settings-enrollment-keys")
    assert_accessible(page)


def test_revoking_a_key_asks_first_and_the_list_fits_a_phone(
    signed_in: Callable[..., Page],
    console: LiveServer,
    console_admin: httpx.Client,
    console_tenant: Tenant,
) -> None:
    key = ok(
        console_admin.post(
            "/api/v1/enrollment-keys",
            json={"name": "Revoke me", "org_id": console_tenant.org["id"]},
        ),
        201,
    )
    page = signed_in(viewport=PHONE)
    page.goto(f"{console.url}/settings/enrollment-keys?org={console_tenant.org['id']}")
    revoke = page.get_by_role("button", name="Revoke enrollment key Revoke me")
    messages: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    revoke.click()
    expect(revoke).to_be_visible()  # dismissed: nothing happened
    assert "no new device can enroll" in messages[0]
    page.once("dialog", lambda d: d.accept())
    revoke.click()
    expect(page.get_by_text("Enrollment key Revoke me revoked")).to_be_visible()
    expect(page.get_by_role("button", name="Revoke enrollment key Revoke me")).to_have_count(0)
    assert ok(console_admin.get(f"/api/v1/enrollment-keys/{key['id']}"))["revoked_at"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, "the page scrolls sideways on a phone"
