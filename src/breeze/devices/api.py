"""Device console routes (thin: parse, act or query, answer) and the inventory gateway."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.devices import actions, queries
from breeze.devices.gateway import router as gateway
from breeze.devices.schemas import (
    ChangeOut,
    DeviceDetail,
    DeviceOut,
    DeviceUpdate,
    DisksOut,
    HardwareOut,
    NetworkOut,
    SoftwareOut,
)

log = logging.getLogger("breeze.devices")
router = APIRouter()
console = APIRouter(prefix="/devices", tags=["devices"])
DeviceList = Annotated[ListParams, Depends(list_query(queries.DEVICE_LIST))]
SoftwareList = Annotated[ListParams, Depends(list_query(queries.SOFTWARE_LIST))]
ChangeList = Annotated[ListParams, Depends(list_query(queries.CHANGE_LIST))]


@console.get("", response_model=Page[DeviceOut])
async def list_devices(ctx: CurrentCtx, params: DeviceList) -> Page[DeviceOut]:
    """Devices in reach; `q` searches host name, display name, IP addresses and serial."""
    async with ctx.read() as s:
        rows, total = await queries.list_devices(s, ctx.principal, params)
    return page_of([DeviceOut.model_validate(r) for r in rows], total, params)


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
    return DeviceOut.model_validate(device)


@console.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def decommission_device(ctx: CurrentCtx, device_id: uuid.UUID) -> None:
    """Decommission: the agent token is revoked (the agent gets 401 and stops)."""
    async with ctx.write() as uow:
        device = await actions.do_decommission_device(
            uow.session, actor=ctx.principal, device_id=device_id
        )
        event = {"agent_id": device.agent_id, "device_id": str(device.id)}

        async def close_agent_socket() -> None:
            # Whichever replica holds the agent's WebSocket closes it (4401).
            try:
                await ctx.state.bus.publish("device.decommissioned", event)
            except Exception:
                log.exception("could not publish device.decommissioned for %s", device_id)

        uow.on_commit(close_agent_socket)


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
router.include_router(gateway)
