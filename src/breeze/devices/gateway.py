"""Agent gateway routes of the devices domain (agent token auth, breeze_protocol bodies)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from breeze.agents.auth import CurrentAgent
from breeze.core.state import app_state
from breeze.devices.inventory import do_ingest_inventory
from breeze.devices.schemas import InventoryAccepted
from breeze_protocol import Inventory

router = APIRouter(tags=["agents"])


@router.put("/agents/{agent_id}/inventory", response_model=InventoryAccepted)
async def put_inventory(
    request: Request, agent: CurrentAgent, body: Inventory
) -> InventoryAccepted:
    """Full or delta inventory: each non-null section replaces the stored copy; null
    sections keep theirs. Sending the same document again records nothing."""
    async with app_state(request).db.write() as uow:
        changes = await do_ingest_inventory(uow.session, agent=agent, doc=body)
    return InventoryAccepted(accepted=True, changes=changes)
