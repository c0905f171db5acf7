"""Custom field routes: definitions per organization and a device's values (thin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, status

from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.customfields import actions, queries, values
from breeze.customfields.schemas import (
    VALUE_HELP,
    CustomFieldCreate,
    CustomFieldOut,
    CustomFieldUpdate,
    DeviceFieldValue,
)
from breeze.devices.queries import get_device

router = APIRouter()
fields = APIRouter(prefix="/custom-fields", tags=["custom fields"])
FieldList = Annotated[ListParams, Depends(list_query(queries.FIELD_LIST))]
MAX_VALUES = 200


@fields.get("", response_model=Page[CustomFieldOut])
async def list_fields(ctx: CurrentCtx, params: FieldList) -> Page[CustomFieldOut]:
    """Definitions in reach (devices:read); filter by org_id and type."""
    async with ctx.read() as s:
        rows, total = await queries.list_fields(s, ctx.principal, params)
    return page_of([CustomFieldOut.model_validate(r) for r in rows], total, params)


@fields.post("", response_model=CustomFieldOut, status_code=status.HTTP_201_CREATED)
async def create_field(ctx: CurrentCtx, body: CustomFieldCreate) -> CustomFieldOut:
    """A new field of an organization (devices:write there); key unique per organization."""
    async with ctx.write() as uow:
        row = await actions.do_create_field(uow.session, actor=ctx.principal, data=body)
    return CustomFieldOut.model_validate(row)


@fields.get("/{field_id}", response_model=CustomFieldOut)
async def get_field(ctx: CurrentCtx, field_id: uuid.UUID) -> CustomFieldOut:
    async with ctx.read() as s:
        return CustomFieldOut.model_validate(await queries.get_field(s, ctx.principal, field_id))


@fields.patch("/{field_id}", response_model=CustomFieldOut)
async def update_field(
    ctx: CurrentCtx, field_id: uuid.UUID, body: CustomFieldUpdate
) -> CustomFieldOut:
    """Change name, description, options, required or default (key and type are fixed).
    Removing an option some device holds answers 409."""
    async with ctx.write() as uow:
        row = await actions.do_update_field(
            uow.session, actor=ctx.principal, field_id=field_id, data=body
        )
    return CustomFieldOut.model_validate(row)


@fields.delete("/{field_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_field(ctx: CurrentCtx, field_id: uuid.UUID) -> None:
    """Delete the definition and remove its values from every device."""
    async with ctx.write() as uow:
        cleared = await actions.do_delete_field(uow.session, actor=ctx.principal, field_id=field_id)
        values.reevaluate_after_commit(uow, ctx.state.db, cleared)


@router.get(
    "/devices/{device_id}/custom-fields",
    response_model=list[DeviceFieldValue],
    tags=["custom fields"],
)
async def device_values(ctx: CurrentCtx, device_id: uuid.UUID) -> list[DeviceFieldValue]:
    """Every custom field of the device's organization with the device's value (or the
    default when it has none of its own)."""
    async with ctx.read() as s:
        device = await get_device(s, ctx.principal, device_id)
        definitions = await queries.definitions_for_org(s, device.org_id)
    return values.with_defaults(definitions, device.custom_fields or {})


@router.patch(
    "/devices/{device_id}/custom-fields",
    response_model=list[DeviceFieldValue],
    tags=["custom fields"],
)
async def set_device_values(
    ctx: CurrentCtx,
    device_id: uuid.UUID,
    body: Annotated[
        dict[str, Any],
        Body(description="key -> value, or null to clear. " + VALUE_HELP, max_length=MAX_VALUES),
    ],
) -> list[DeviceFieldValue]:
    """Set or clear values (devices:write); each key must be a field of the device's
    organization and each value valid for its type."""
    async with ctx.write() as uow:
        device = await get_device(uow.session, ctx.principal, device_id)
        diff = await values.set_device_values(
            uow.session, actor=ctx.principal, device=device, values=body
        )
        if diff:
            values.reevaluate_after_commit(uow, ctx.state.db, [device.id])
        definitions = await queries.definitions_for_org(uow.session, device.org_id)
    return values.with_defaults(definitions, device.custom_fields or {})


router.include_router(fields)
