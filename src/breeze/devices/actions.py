"""Console writes to devices; each writes its audit row in the same transaction.

(The agent's inventory upload is breeze.devices.inventory.do_ingest_inventory.)
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.bus import Bus
from breeze.core.errors import InvalidInput
from breeze.core.patch import apply_changes
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.db.engine import UnitOfWork
from breeze.devices import queries
from breeze.devices.errors import DeviceDecommissioned
from breeze.devices.models import Device
from breeze.devices.schemas import DeviceUpdate
from breeze.tenancy.queries import live_site_ids

DECOMMISSIONED = "decommissioned"


async def apply_update(
    session: AsyncSession, *, actor: Principal, device: Device, changes: dict[str, Any]
) -> dict[str, list[Any]]:
    """Check and apply a change to a loaded device, without an audit row (the caller
    writes it: one per device for PATCH, one per bulk action). Answers the diff."""
    actor.require(
        "devices:write", partner_id=device.partner_id, org_id=device.org_id, site_id=device.site_id
    )
    if device.decommissioned_at is not None:
        raise DeviceDecommissioned()
    if "site_id" in changes and changes["site_id"] != device.site_id:
        site_id = changes["site_id"]
        if site_id is None:
            raise InvalidInput("site_id cannot be null", field="site_id")
        if not await live_site_ids(session, device.org_id, [site_id]):
            raise InvalidInput(
                "site_id is not a site of the device's organization", field="site_id"
            )
        actor.require(
            "devices:write", partner_id=device.partner_id, org_id=device.org_id, site_id=site_id
        )
    return apply_changes(device, changes, required=frozenset({"site_id", "tags"}))


async def do_update_device(
    session: AsyncSession, *, actor: Principal, device_id: uuid.UUID, data: DeviceUpdate
) -> Device:
    device = await queries.get_device(session, actor, device_id)
    diff = await apply_update(
        session, actor=actor, device=device, changes=data.model_dump(exclude_unset=True)
    )
    await record(
        session,
        actor=actor.actor,
        action="device.update",
        resource_type="device",
        resource_id=device.id,
        resource_name=device.display_name or device.hostname,
        partner_id=device.partner_id,
        org_id=device.org_id,
        details={"changes": diff},
    )
    return device


def apply_decommission(actor: Principal, device: Device) -> str | None:
    """Retire a loaded device without an audit row; answers its previous status, or None
    when it was already decommissioned (nothing changes)."""
    actor.require(
        "devices:delete", partner_id=device.partner_id, org_id=device.org_id, site_id=device.site_id
    )
    if device.decommissioned_at is not None:
        return None
    previous = device.status
    device.status = DECOMMISSIONED
    device.decommissioned_at = utcnow()
    device.agent_token_hash = None
    return previous


async def do_decommission_device(
    session: AsyncSession, *, actor: Principal, device_id: uuid.UUID
) -> Device:
    """Retire a device: its agent token stops working (the agent gets 401 and stops), it
    leaves the device list, and its machine may enroll again as a new device.
    Decommissioning a decommissioned device changes nothing."""
    device = await queries.get_device(session, actor, device_id)
    previous = apply_decommission(actor, device)
    if previous is None:
        return device
    await record(
        session,
        actor=actor.actor,
        action="device.decommission",
        resource_type="device",
        resource_id=device.id,
        resource_name=device.display_name or device.hostname,
        partner_id=device.partner_id,
        org_id=device.org_id,
        details={"previous_status": previous, "agent_id": device.agent_id},
    )
    return device


async def do_set_pending_reboot(
    session: AsyncSession, *, device_id: uuid.UUID, pending: bool
) -> None:
    """Record what a command said about a needed reboot (a reboot the agent is starting,
    a script that asked for one: set; the device came back from a reboot: cleared). The
    agent's next heartbeat reports its own view and takes over."""
    await session.execute(
        update(Device)
        .where(Device.id == device_id, Device.pending_reboot.is_not(pending))
        .values(pending_reboot=pending, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


log = logging.getLogger(__name__)


def close_agent_sockets_after_commit(uow: UnitOfWork, bus: Bus, devices: list[Device]) -> None:
    """After the decommission commits, whichever replica holds each agent's WebSocket
    closes it (4401)."""
    if not devices:
        return
    events = [{"agent_id": d.agent_id, "device_id": str(d.id)} for d in devices]

    async def close_agent_sockets() -> None:
        for event in events:
            try:
                await bus.publish("device.decommissioned", event)
            except Exception:
                log.exception("could not publish device.decommissioned for %s", event["device_id"])

    uow.on_commit(close_agent_sockets)
