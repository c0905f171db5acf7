"""The issue's scenario in Chromium: an administrator invites a user as Org Viewer of a
tenant organization, the invitation email (real SMTP) is opened in a fresh browser, the
user sets a password and lands signed in; then the Org Viewer is shown no way to run a
script or act on a device, and forged run requests are refused by the server."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.factories import Tenant, ok, unique
from tests.support.browser import assert_accessible, new_console_page, shot
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

PASSWORD = "harbor-thistle-copper-6184"
# "Run", "Run a script", "Run <script>", "Run now"; not the "Run history" link.
RUN = re.compile(r"^Run(?! history)\b")


def _fake_device(console: LiveServer, admin: httpx.Client, org_id: str) -> str:
    """A device of the organization, enrolled the way an agent does (no agent running)."""
    key = ok(
        admin.post("/api/v1/enrollment-keys", json={"name": unique("key"), "org_id": org_id}), 201
    )
    body = {
        "enrollment_key": key["key"],
        "machine_id": unique("machine") + "0000",
        "hostname": unique("viewer-host"),
        "os_type": "linux",
        "os_version": "12 (bookworm)",
        "architecture": "x86_64",
        "agent_version": "0.1.0",
    }
    with httpx.Client(base_url=console.url, timeout=30) as anon:
        return str(ok(anon.post("/api/v1/agents/enroll", json=body))["device_id"])


def _invite_as_admin(
    admin_page: Page, console: LiveServer, org: dict[str, str], email: str
) -> None:
    page = admin_page
    page.goto(f"{console.url}/settings/users?org={org['id']}")
    page.get_by_role("link", name="Invite a user").first.click()
    expect(page.get_by_role("heading", name="Invite a user", level=1)).to_be_visible()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Name", exact=True).fill("Vera Viewer")
    expect(page.get_by_label("Access to")).to_have_value(f"org:{org['id']}")
    role = page.get_by_label("Role")
    role.select_option(label=role.locator("option", has_text="Org Viewer").inner_text())
    page.get_by_role("button", name="Send invitation").click()
    expect(
        page.get_by_role("status").filter(has_text=f"Invitation sent to {email}")
    ).to_be_visible()
    pending = page.get_by_role("region", name=re.compile("Pending invitations"))
    expect(pending.get_by_role("row").filter(has_text=email)).to_contain_text("Org Viewer")
    expect(pending.get_by_role("button", name=f"Resend the invitation to {email}")).to_be_visible()
    page.reload()  # the page itself, without the one-time message
    expect(pending).to_contain_text(email)
    assert_accessible(page)
    shot(page, "settings-users")


def _accept(page: Page, link: str, org: dict[str, str]) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", name="Join Breeze")).to_be_visible()
    expect(page.locator("main")).to_contain_text(org["name"])
    expect(page.locator("main")).to_contain_text("Org Viewer")
    assert_accessible(page)
    shot(page, "accept-invitation")
    page.get_by_label("Your name").fill("Vera Viewer")
    page.get_by_label("Choose a password").fill("short")
    page.get_by_label("Repeat the password").fill("short")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.locator("#f-password-error")).to_contain_text("at least")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(re.compile(r"/(\?.*)?$"))
    expect(page.get_by_text("Welcome to Breeze")).to_be_visible()
    expect(
        page.get_by_role("button", name=re.compile("Account menu for Vera Viewer"))
    ).to_be_visible()


def test_invited_org_viewer_signs_in_and_cannot_run_scripts(
    console: LiveServer,
    console_admin: httpx.Client,
    console_tenant: Tenant,
    mailbox: Mailbox,
    admin_page: Page,
    open_context: Callable[..., BrowserContext],
    page_errors: list[str],
) -> None:
    org = console_tenant.org
    device_id = _fake_device(console, console_admin, org["id"])
    email = f"{unique('vera')}@example.com"
    _invite_as_admin(admin_page, console, org, email)

    mail = mailbox.wait_for(email, subject="invit")
    link = re.search(r"https?://\S+/accept-invitation\?token=\S+", mail.body)
    assert link, mail.body
    assert link.group(0).startswith(console.url)
    # What the administrator is offered on the same pages (so the absences below mean
    # something): a Run link on the script, actions on the device.
    system_script = ok(console_admin.get("/api/v1/scripts", params={"per_page": 1}))["items"][0]
    admin_page.goto(f"{console.url}/scripts/{system_script['id']}")
    expect(admin_page.get_by_role("link", name="Run", exact=True)).to_be_visible()
    admin_page.goto(f"{console.url}/devices/{device_id}")
    expect(admin_page.get_by_role("button", name="Reboot", exact=True)).to_be_visible()

    page = new_console_page(open_context(), page_errors)  # a fresh browser: no admin cookies
    _accept(page, link.group(0), org)

    # The viewer's navigation offers no user or role administration.
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Scripts", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)

    # The script library: scripts to read, nothing to run.
    page.goto(f"{console.url}/scripts")
    expect(page.get_by_role("heading", name="Script library", level=1)).to_be_visible()
    scripts = page.locator("main table a[href^='/scripts/']").filter(has_not_text="Run")
    expect(scripts.first).to_be_visible()
    expect(page.get_by_role("link", name=RUN)).to_have_count(0)
    expect(page.get_by_role("button", name=RUN)).to_have_count(0)
    shot(page, "viewer-scripts")
    href = scripts.first.get_attribute("href")
    assert href
    script_id = href.split("?")[0].rsplit("/", 1)[1]
    page.goto(f"{console.url}/scripts/{script_id}")
    expect(page.locator("main")).to_be_visible()
    expect(page.get_by_role("link", name=RUN)).to_have_count(0)
    expect(page.get_by_role("button", name=RUN)).to_have_count(0)

    # The run dialog's address, typed in: refused with the reason.
    response = page.goto(f"{console.url}/scripts/run?script_id={script_id}&device_ids={device_id}")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("'scripts:execute' permission")

    # A forged form post to the run endpoint, with the viewer's own session and CSRF token.
    page.goto(f"{console.url}/scripts/{script_id}")
    with page.expect_navigation() as nav_info:
        page.evaluate(
            """([scriptId, deviceId]) => {
                const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
                const form = document.createElement('form');
                form.method = 'post';
                form.action = '/scripts/run';
                for (const [k, v] of [['csrf_token', token], ['script_id', scriptId], ['device_ids', deviceId]]) {
                    const input = document.createElement('input');
                    input.type = 'hidden'; input.name = k; input.value = v;
                    form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }""",
            [script_id, device_id],
        )
    assert nav_info.value is not None and nav_info.value.status == 403
    expect(page.locator("main")).to_contain_text("permission")
    # And the JSON API, with the same cookie session.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "breeze_csrf")
    api = page.request.post(
        f"{console.url}/api/v1/scripts/{script_id}/execute",
        data={"device_ids": [device_id]},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status == 403, api.text()

    # The device page: visible, with no action.
    page.goto(f"{console.url}/devices/{device_id}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    for name in ("Run script", "Reboot", "Collect inventory", "Decommission"):
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
