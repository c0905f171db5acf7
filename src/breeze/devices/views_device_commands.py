"""The device page's commands tab and its actions (thin): the command history, one
command's output (streamed live while it runs), cancel, and the header actions (reboot,
shutdown, collect inventory, decommission), each through the same action as the JSON API."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse, Response

from breeze.commands import actions as command_actions
from breeze.commands import queries as command_queries
from breeze.commands.errors import CommandFinished
from breeze.commands.models import OPEN_STATES, STATES
from breeze.commands.schemas import CommandCreate
from breeze.core.errors import BreezeError, InvalidInput, NotFound
from breeze.core.pagination import ListParams
from breeze.devices import actions, queries
from breeze.devices.models import Device
from breeze.devices.views_detail_base import device_name, render_tab
from breeze.scripts.queries import script_names
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import is_htmx, render

log = logging.getLogger("breeze.devices")
router = APIRouter(include_in_schema=False)
DEVICE = "/devices/{device_id:uuid}"
PER_PAGE = 25
CommandStatus = Literal["pending", "sent", "running", "completed", "failed", "timeout", "cancelled"]
CommandType = Literal["script", "reboot", "shutdown", "collect_inventory", "update_agent"]

# The header actions that queue a command: URL name -> (command type, what the user sees).
QUEUED_ACTIONS: dict[str, tuple[str, str]] = {
    "reboot": ("reboot", "Reboot"),
    "shutdown": ("shutdown", "Shut down"),
    "collect-inventory": ("collect_inventory", "Collect inventory"),
}
FORM_FIELDS = {"delay_seconds", "message", "confirm_name"}
TYPE_LABELS = {
    "script": "Script",
    "reboot": "Reboot",
    "shutdown": "Shut down",
    "collect_inventory": "Collect inventory",
    "update_agent": "Update agent",
}


def _commands_url(device_id: uuid.UUID, command_id: uuid.UUID | None = None) -> str:
    base = f"/devices/{device_id}/commands"
    return f"{base}/{command_id}" if command_id else base


@router.get(DEVICE + "/commands", response_class=HTMLResponse)
async def commands(
    ctx: WebCtxDep,
    device_id: uuid.UUID,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    status: Annotated[CommandStatus | None, Query()] = None,
    type: Annotated[CommandType | None, Query()] = None,
) -> HTMLResponse:
    filters: dict[str, list[Any]] = {}
    if status:
        filters["status"] = [status]
    if type:
        filters["type"] = [type]
    params = ListParams(page=page, per_page=PER_PAGE, sort=None, q=None, filters=filters)
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
        rows, total = await command_queries.list_commands(
            s, ctx.principal, params, device_id=device.id
        )
        scripts = await script_names(s, [c.script_id for c in rows])
    return await render_tab(
        ctx,
        device,
        "commands",
        "devices/tabs/commands.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
            "status": status,
            "type": type,
            "states": STATES,
            "type_labels": TYPE_LABELS,
            "scripts": scripts,
            "any_open": any(c.status in OPEN_STATES for c in rows),
        },
    )


@router.get(DEVICE + "/commands/{command_id:uuid}", response_class=HTMLResponse)
async def command_detail(
    ctx: WebCtxDep, device_id: uuid.UUID, command_id: uuid.UUID
) -> HTMLResponse:
    """One command: who queued it, its state, and its output (live while it runs)."""
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
        cmd = await command_queries.get_command(s, ctx.principal, command_id, device_id=device.id)
        chunks = [] if cmd.stdout is not None else await command_queries.output_chunks(s, cmd.id)
        scripts = await script_names(s, [cmd.script_id])
    return await render_tab(
        ctx,
        device,
        "commands",
        "devices/tabs/command.html",
        {
            "cmd": cmd,
            "chunks": chunks,
            "script_name": scripts.get(cmd.script_id) if cmd.script_id else None,
            "type_labels": TYPE_LABELS,
            "is_open": cmd.status in OPEN_STATES,
        },
    )


@router.post(DEVICE + "/commands/{command_id:uuid}/cancel")
async def cancel_command(ctx: WebCtxDep, device_id: uuid.UUID, command_id: uuid.UUID) -> Response:
    back = _commands_url(device_id, command_id)
    try:
        async with ctx.write() as uow:
            cmd = await command_actions.do_cancel_command(
                uow, actor=ctx.principal, command_id=command_id, device_id=device_id
            )
    except CommandFinished as exc:
        return ctx.redirect(back, exc.detail, "warning")
    if cmd.status == "cancelled":
        return ctx.redirect(back, "The command was cancelled before the device took it.")
    return ctx.redirect(back, "The device was asked to stop the command.", "info")


# -- header actions --------------------------------------------------------------------------


def _power_payload(values: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    delay = values.get("delay_seconds")
    if delay is not None:
        payload["delay_seconds"] = int(delay) if delay.strip().isdigit() else delay
    if values.get("message") is not None:
        payload["message"] = values["message"]
    return payload


@router.post(DEVICE + "/actions/{action}")
async def queue_action(ctx: WebCtxDep, device_id: uuid.UUID, action: str) -> Response:
    """Reboot, shut down or collect inventory: the command is queued as
    POST /api/v1/devices/{id}/commands does, then the page shows it."""
    if action not in QUEUED_ACTIONS:
        raise NotFound("There is no such device action")
    kind, label = QUEUED_ACTIONS[action]
    values = form_values(await ctx.request.form())
    payload = _power_payload(values) if kind in ("reboot", "shutdown") else {}
    try:
        body = parse(CommandCreate, {"type": kind, "payload": payload})
        resolved = await asyncio.to_thread(
            command_actions.resolve_payload, ctx.state, body.type, body.payload
        )
        async with ctx.write() as uow:
            device = await queries.get_device(uow.session, ctx.principal, device_id)
            cmd = await command_actions.do_queue_command(
                uow,
                actor=ctx.principal,
                device=device,
                type=body.type,
                payload=resolved,
                settings=ctx.settings,
            )
    except BreezeError as exc:
        if not is_htmx(ctx.request) or isinstance(exc, NotFound):
            raise
        async with ctx.read() as s:
            device = await queries.get_device(s, ctx.principal, device_id)
        return await _form_error(ctx, device, action, exc, values)
    return ctx.redirect(
        _commands_url(device_id, cmd.id),
        f"{label} was queued for {device_name(device)}.",
    )


async def _form_error(
    ctx: WebCtx, device: Device, action: str, exc: BreezeError, values: dict[str, Any]
) -> HTMLResponse:
    errors = {k.removeprefix("payload."): v for k, v in field_errors(exc).items()}
    if exc.status != 422 or not errors.keys() & FORM_FIELDS:
        errors = {"": exc.detail}
    return render(
        ctx,
        "devices/_detail_action_form.html",
        {
            "device": device,
            "name": device_name(device),
            "action": action,
            "errors": errors,
            "values": values,
        },
        status=exc.status,
    )


@router.post(DEVICE + "/decommission")
async def decommission(ctx: WebCtxDep, device_id: uuid.UUID) -> Response:
    """Decommission as DELETE /api/v1/devices/{id} does; the user types the host name to
    confirm, so a slip of the mouse retires nothing."""
    values = form_values(await ctx.request.form())
    try:
        async with ctx.write() as uow:
            device = await queries.get_device(uow.session, ctx.principal, device_id)
            typed = (values.get("confirm_name") or "").strip()
            if typed != device.hostname:
                # The permission is checked first: a viewer learns nothing from this form.
                ctx.principal.require(
                    "devices:delete",
                    partner_id=device.partner_id,
                    org_id=device.org_id,
                    site_id=device.site_id,
                )
                raise InvalidInput(
                    "Type the device's host name exactly to confirm", field="confirm_name"
                )
            device = await actions.do_decommission_device(
                uow.session, actor=ctx.principal, device_id=device_id
            )
            actions.close_agent_sockets_after_commit(uow, ctx.state.bus, [device])
    except BreezeError as exc:
        if not is_htmx(ctx.request) or isinstance(exc, NotFound):
            raise
        async with ctx.read() as s:
            device = await queries.get_device(s, ctx.principal, device_id)
        return await _form_error(ctx, device, "decommission", exc, values)
    return ctx.redirect(
        "/devices", f"{device_name(device)} was decommissioned; its agent can no longer connect."
    )
