"""Periodic agent work: the offline-detection sweep."""

from __future__ import annotations

import logging
import time

from breeze.core.state import AppState
from breeze.core.worker import PeriodicTask
from breeze.db.base import utcnow
from breeze.devices.presence import PresenceChange, sweep_offline

log = logging.getLogger("breeze.agents")
# PeriodicTask intervals are fixed at import; the sweep's own cadence comes from the
# settings, so the task ticks often and sweeps when due.
TICK_SECONDS = 0.25
_last_sweep: dict[int, float] = {}


async def sweep(state: AppState) -> list[PresenceChange]:
    """Mark silent devices offline; publish `device.offline` for each after commit."""
    agents = state.settings.agents
    async with state.db.write() as uow:
        changes = await sweep_offline(uow.session, now=utcnow(), missed=agents.offline_after_missed)
    for change in changes:
        try:
            await state.bus.publish("device.offline", change.event())
        except Exception:
            log.exception("could not publish device.offline for %s", change.device_id)
    return changes


async def presence(state: AppState) -> None:
    due = _last_sweep.get(id(state), 0.0) + state.settings.agents.presence_sweep_seconds
    if time.monotonic() < due:
        return
    _last_sweep[id(state)] = time.monotonic()
    await sweep(state)


TASKS: list[PeriodicTask] = [PeriodicTask("agents.presence", presence, TICK_SECONDS)]
