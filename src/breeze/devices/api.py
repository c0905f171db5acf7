"""Device console routes (thin: parse, act or query, answer). The inventory gateway is
mounted by `app.py`, ahead of the console routes."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import StreamingResponse

from breeze.auth.deps import CurrentCtx
from breeze.core.errors import InvalidInput
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.customfields.values import reevaluate_after_commit
from breeze.db.base import utcnow
from breeze.devices import actions, bulk, export, queries
from breeze.devices.schemas import (
    BulkRequest,
    BulkResult,
    ChangeOut,
    DeviceDetail,
    DeviceOut,
    DeviceUpdate,
    DisksOut,
    HardwareOut,
    NetworkOut,
    SoftwareOut,
    TagCount,
)

log = logging.getLogger("breeze.devices")
router = APIRouter()
console = APIRouter(prefix="/devices", tags=["devices"])
DeviceList = Annotated[ListParams, Depends(list_query(queries.DEVICE_LIST))]
SoftwareList = Annotated[ListParams, Depends(list_query(queries.SOFTWARE_LIST))]
ChangeList = Annotated[ListParams, Depends(list_query(queries.CHANGE_LIST))]


@console.get("", response_model=Page[DeviceOut])
async def list_devices(ctx: CurrentCtx, params: DeviceList) -> Page[DeviceOut]:
    """Devices in reach; `q` searches host name, display name, IP addresses and serial.

    Filters take comma-separated values (any of them). `custom_field` takes
    `<key>:<value>` terms: the same key any of them, different keys all of them;
    `<key>:*` any value; a device without its own value matches the field's default.
    `group_id` keeps members of the groups; `last_seen_after` / `last_seen_before` take
    ISO 8601 instants."""
    async with ctx.read() as s:
        rows, total = await queries.list_devices(s, ctx.principal, params)
    return page_of([DeviceOut.model_validate(r) for r in rows], total, params)


@console.get("/tags", response_model=list[TagCount])
async def list_tags(
    ctx: CurrentCtx,
    org_id: Annotated[
        uuid.UUID | None, Query(description="Only devices of this organization")
    ] = None,
) -> list[TagCount]:
    """The tags on live devices in reach, most used first, with their device counts."""
    async with ctx.read() as s:
        counts = await queries.tag_counts(s, ctx.principal, [org_id] if org_id else [])
    return [TagCount(tag=t, count=n) for t, n in counts]


@console.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The devices as CSV"}},
)
async def export_devices(
    ctx: CurrentCtx,
    params: DeviceList,
    format: Annotated[str, Query(max_length=10, description="csv (the only format)")] = "csv",
) -> StreamingResponse:
    """The devices of the list's filters as CSV (at most 100,000 rows), in the list's
    order; with one org_id, a column cf:<key> per custom field of that organization.
    Audited as device.export."""
    if format != "csv":
        raise InvalidInput("The only export format is csv", field="format")
    async with ctx.read() as s:
        plan = await export.plan_export(s, ctx.principal, params)
        scope = await export.export_scope(s, ctx.principal, params)
    async with ctx.write() as uow:
        await export.audit_export(uow.session, ctx.principal, plan, scope)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        export.stream_csv(ctx.state.db, ctx.principal, plan),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="devices-{stamp}.csv"'},
    )


@console.post("/bulk", response_model=BulkResult)
async def bulk_action(ctx: CurrentCtx, body: BulkRequest) -> BulkResult:
    """Tag, untag, move to a site, run a script on, or decommission (confirm: true) many
    devices: named (device_ids), by the list's filters (filter) or a group (group_id), at
    most 10,000. One transaction and one audit row (device.bulk.<action>); the answer
    has a result per device: a device the caller cannot see is "not found" (404) and left
    alone, one they may see but not change is refused (403), the others proceed."""
    async with ctx.write() as uow:
        return await bulk.do_bulk(uow, actor=ctx.principal, state=ctx.state, req=body)


@console.get("/{device_id}", response_model=DeviceDetail)
async def get_device(ctx: CurrentCtx, device_id: uuid.UUID) -> DeviceDetail:
    async with ctx.read() as s:
        return await queries.device_detail(s, ctx.principal, device_id)


@console.patch("/{device_id}", response_model=DeviceOut)
async def update_device(ctx: CurrentCtx, device_id: uuid.UUID, body: DeviceUpdate) -> DeviceOut:
    async with ctx.write() as uow:
        device = await actions.do_update_device(
            uow.session, actor=ctx.principal, device_id=device_id, data=body
        )
        # Tags and site take part in dynamic group rules.
        reevaluate_after_commit(uow, ctx.state.db, [device.id])
    return DeviceOut.model_validate(device)


@console.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def decommission_device(ctx: CurrentCtx, device_id: uuid.UUID) -> None:
    """Decommission: the agent token is revoked (the agent gets 401 and stops)."""
    async with ctx.write() as uow:
        device = await actions.do_decommission_device(
            uow.session, actor=ctx.principal, device_id=device_id
        )
        actions.close_agent_sockets_after_commit(uow, ctx.state.bus, [device])


@console.get("/{device_id}/hardware", response_model=HardwareOut)
async def get_hardware(ctx: CurrentCtx, device_id: uuid.UUID) -> HardwareOut:
    async with ctx.read() as s:
        return await queries.hardware(s, ctx.principal, device_id)


@console.get("/{device_id}/software", response_model=Page[SoftwareOut])
async def list_software(
    ctx: CurrentCtx, device_id: uuid.UUID, params: SoftwareList
) -> Page[SoftwareOut]:
    async with ctx.read() as s:
        rows, total = await queries.list_software(s, ctx.principal, device_id, params)
    return page_of([SoftwareOut.model_validate(r) for r in rows], total, params)


@console.get("/{device_id}/network", response_model=NetworkOut)
async def get_network(ctx: CurrentCtx, device_id: uuid.UUID) -> NetworkOut:
    async with ctx.read() as s:
        return await queries.network(s, ctx.principal, device_id)


@console.get("/{device_id}/disks", response_model=DisksOut)
async def get_disks(ctx: CurrentCtx, device_id: uuid.UUID) -> DisksOut:
    async with ctx.read() as s:
        return await queries.disks(s, ctx.principal, device_id)


@console.get("/{device_id}/changes", response_model=Page[ChangeOut])
async def list_changes(
    ctx: CurrentCtx, device_id: uuid.UUID, params: ChangeList
) -> Page[ChangeOut]:
    """Inventory history, newest first; filter by category, change_type and time."""
    async with ctx.read() as s:
        rows, total = await queries.list_changes(s, ctx.principal, device_id, params)
    return page_of([ChangeOut.model_validate(r) for r in rows], total, params)


router.include_router(console)
