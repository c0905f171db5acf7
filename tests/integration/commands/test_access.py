"""Who may queue, read and cancel commands: permissions and tenant isolation."""

from __future__ import annotations

import uuid

import httpx

from tests.factories import make_member, make_tenant, ok
from tests.integration.commands.helpers import Agent, queue, queued
from tests.support.mailbox import Mailbox


def test_a_viewer_reads_but_cannot_queue_or_cancel(
    cmd_admin: httpx.Client, agent: Agent, cmd_tenant: object, mailbox: Mailbox
) -> None:
    org_id = cmd_tenant.org["id"]  # type: ignore[attr-defined]
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    viewer = make_member(cmd_admin, mailbox, role="Org Viewer", org_id=org_id)
    base = f"/api/v1/devices/{agent.device_id}/commands"
    assert ok(viewer.get(base))["total"] == 1
    assert ok(viewer.get(f"{base}/{cmd['id']}"))["id"] == cmd["id"]
    assert queue(viewer, agent.device_id, "collect_inventory").status_code == 403
    assert viewer.post(f"{base}/{cmd['id']}/cancel").status_code == 403


def test_another_tenant_sees_no_device_and_no_command(
    cmd_admin: httpx.Client, agent: Agent, mailbox: Mailbox
) -> None:
    cmd = queued(cmd_admin, agent.device_id, "collect_inventory")
    other = make_tenant(cmd_admin)
    stranger = make_member(cmd_admin, mailbox, role="Org Admin", org_id=other.org["id"])
    base = f"/api/v1/devices/{agent.device_id}/commands"
    assert stranger.get(base).status_code == 404
    assert stranger.get(f"{base}/{cmd['id']}").status_code == 404
    assert queue(stranger, agent.device_id, "collect_inventory").status_code == 404
    assert stranger.post(f"{base}/{cmd['id']}/cancel").status_code == 404
    # The command id under another device is not found either.
    assert cmd_admin.get(f"/api/v1/devices/{uuid.uuid4()}/commands/{cmd['id']}").status_code == 404
