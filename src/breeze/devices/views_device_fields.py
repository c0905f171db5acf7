"""Custom field values on the device page (thin): the overview's card, its edit form, and
the save, through the same ``set_device_values`` as PATCH /api/v1/devices/{id}/custom-fields."""

from __future__ import annotations

import math
import uuid
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import FieldProblem, Forbidden, InvalidInput
from breeze.customfields import values as field_values
from breeze.customfields.queries import definitions_for_org
from breeze.customfields.schemas import DeviceFieldValue
from breeze.devices import queries
from breeze.devices.models import Device
from breeze.devices.views_detail_base import allowed
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)
DEVICE = "/devices/{device_id:uuid}"
PREFIX = "cf."  # form field names: cf.<key>


async def _load(ctx: WebCtx, device_id: uuid.UUID) -> tuple[Device, list[DeviceFieldValue]]:
    async with ctx.read() as s:
        device = await queries.get_device(s, ctx.principal, device_id)
        definitions = await definitions_for_org(s, device.org_id)
    return device, field_values.with_defaults(definitions, device.custom_fields or {})


def _card(
    ctx: WebCtx,
    device: Device,
    fields: list[DeviceFieldValue],
    *,
    editing: bool = False,
    errors: dict[str, str] | None = None,
    submitted: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        ctx,
        "devices/_detail_fields.html",
        {
            "device": device,
            "fields": fields,
            "allowed": allowed(ctx, device),
            "editing": editing,
            "errors": errors or {},
            "submitted": submitted,
        },
        status=status,
    )


@router.get(DEVICE + "/custom-fields", response_class=HTMLResponse)
async def fields_card(ctx: WebCtxDep, device_id: uuid.UUID) -> HTMLResponse:
    device, fields = await _load(ctx, device_id)
    return _card(ctx, device, fields)


@router.get(DEVICE + "/custom-fields/edit", response_class=HTMLResponse)
async def edit_fields(ctx: WebCtxDep, device_id: uuid.UUID) -> HTMLResponse:
    device, fields = await _load(ctx, device_id)
    if not allowed(ctx, device).write:
        raise Forbidden("You may not change this device's custom fields")
    return _card(ctx, device, fields, editing=True)


def _typed(field: DeviceFieldValue, form: FormData) -> Any:
    """The submitted value of one field in its type; None clears it."""
    name = PREFIX + field.key
    where = f"custom_fields.{field.key}"
    if field.type == "multiselect":
        chosen = [v for v in form.getlist(name) if isinstance(v, str) and v]
        return chosen or None
    raw = form.get(name)
    text = raw.strip() if isinstance(raw, str) else ""
    if text == "":
        return None
    if field.type == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if field.type == "number":
        try:
            number = float(text)
        except ValueError:
            raise InvalidInput(f"'{field.name}' needs a number", field=where) from None
        if not math.isfinite(number):
            raise InvalidInput(f"'{field.name}' needs a finite number", field=where)
        return int(number) if number.is_integer() and "." not in text else number
    return raw if field.type == "text" else text


def changed_values(fields: list[DeviceFieldValue], form: FormData) -> dict[str, Any]:
    """key -> value for what the form changes: a field still showing its default is left
    without a value of its own; emptying a field clears the device's value."""
    out: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for field in fields:
        try:
            value = _typed(field, form)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            continue
        if field.is_default:
            if value is not None and value != field.value:
                out[field.key] = value
        elif value != field.value:
            out[field.key] = value
    if problems:
        raise InvalidInput("; ".join(p.message for p in problems), problems=problems)
    return out


@router.post(DEVICE + "/custom-fields")
async def save_fields(ctx: WebCtxDep, device_id: uuid.UUID) -> Response:
    form = await ctx.request.form()
    device, fields = await _load(ctx, device_id)
    submitted = {
        f.key: form.getlist(PREFIX + f.key) if f.type == "multiselect" else form.get(PREFIX + f.key)
        for f in fields
    }
    try:
        changes = changed_values(fields, form)
        async with ctx.write() as uow:
            device = await queries.get_device(uow.session, ctx.principal, device_id)
            diff = await field_values.set_device_values(
                uow.session, actor=ctx.principal, device=device, values=changes, source="console"
            )
            if diff:
                field_values.reevaluate_after_commit(uow, ctx.state.db, [device.id])
    except InvalidInput as exc:
        return _card(
            ctx,
            device,
            fields,
            editing=True,
            errors=field_errors(exc),
            submitted=submitted,
            status=exc.status,
        )
    message = "Custom fields saved." if diff else "Nothing changed."
    return ctx.redirect(f"/devices/{device_id}", message)
