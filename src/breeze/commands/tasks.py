"""The command sweep: expiry of commands a device never took, re-delivery of commands an
agent never acknowledged, and timeouts of commands whose result never came.

Safe in several processes at once: rows are picked with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite has one writer) and each change re-checks the state it expects. Each
step handles a bounded batch per run; the rest waits for the next run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from breeze.commands import events
from breeze.commands.delivery import lock_skipping
from breeze.commands.ingest import CLOSED_BY_SERVER, erase_secrets
from breeze.commands.models import CANCELLED, PENDING, RUNNING, SENT, TIMEOUT, DeviceCommand
from breeze.core.state import AppState
from breeze.core.worker import PeriodicTask
from breeze.db.base import utcnow
from breeze.devices.models import Device

SWEEP_BATCH = 500
# PeriodicTask intervals are fixed at import; the sweep's cadence comes from the settings,
# so the task ticks often and sweeps when due.
TICK_SECONDS = 0.25
_last_sweep: dict[int, float] = {}


@dataclass
class SweepReport:
    expired: int = 0
    redelivered: int = 0
    timed_out: int = 0
    cancelled: int = 0
    statuses: list[dict[str, Any]] = field(default_factory=list)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)


def _close(cmd: DeviceCommand, status: str, error: str, now: datetime) -> None:
    cmd.status = status
    cmd.error = error
    cmd.completed_at = now
    cmd.updated_at = now
    cmd.result_details = dict(CLOSED_BY_SERVER)
    if cmd.delivery_count == 0:
        erase_secrets(cmd)  # never handed out: no late result can need them for redaction


async def _rows(s: Any, *where: Any) -> list[tuple[DeviceCommand, str]]:
    stmt = (
        select(DeviceCommand, Device.agent_id)
        .join(Device, Device.id == DeviceCommand.device_id)
        .where(*where)
        .order_by(DeviceCommand.created_at)
        .limit(SWEEP_BATCH)
    )
    return [(c, a) for c, a in (await s.execute(lock_skipping(stmt, s, DeviceCommand))).tuples()]


async def sweep_commands(state: AppState) -> SweepReport:
    """One pass over due commands; publishes status changes (and re-deliveries) after commit."""
    cfg = state.settings.commands
    now = utcnow()
    report = SweepReport()
    async with state.db.write() as uow:
        s = uow.session
        for cmd, _agent in await _rows(
            s, DeviceCommand.status == PENDING, DeviceCommand.expires_at <= now
        ):
            when = cmd.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            _close(cmd, TIMEOUT, f"expired: the device did not come back before {when}", now)
            report.expired += 1
            report.statuses.append(events.status_event(cmd))
        unacked = now - timedelta(seconds=cfg.redeliver_after_seconds)
        for cmd, agent_id in await _rows(
            s, DeviceCommand.status == SENT, DeviceCommand.sent_at <= unacked
        ):
            if cmd.cancel_requested_at is not None:
                _close(cmd, CANCELLED, "cancelled before the agent acknowledged it", now)
                report.cancelled += 1
            else:
                # Handed out again by the next claim; delivery_count keeps the history.
                cmd.status = PENDING
                cmd.updated_at = now
                report.redelivered += 1
                report.agents[agent_id] = events.agent_event(agent_id, cmd.device_id)
            report.statuses.append(events.status_event(cmd))
        for cmd, _agent in await _rows(
            s,
            DeviceCommand.status.in_((SENT, RUNNING)),
            DeviceCommand.deadline_at.is_not(None),
            DeviceCommand.deadline_at <= now,
        ):
            if cmd.cancel_requested_at is not None:
                _close(cmd, CANCELLED, "cancel requested; the agent never confirmed it", now)
                report.cancelled += 1
            else:
                grace = cfg.result_grace_seconds
                _close(
                    cmd,
                    TIMEOUT,
                    f"no result within the timeout ({cmd.timeout_seconds}s + {grace}s grace)",
                    now,
                )
                report.timed_out += 1
            report.statuses.append(events.status_event(cmd))
    await events.publish_many(events.COMMAND_STATUS, report.statuses, state.bus)
    await events.publish_many(events.AGENT_COMMANDS, list(report.agents.values()), state.bus)
    return report


async def sweep(state: AppState) -> None:
    # A worker process has no commands router: bind the bus the actions publish on here.
    events.bind(state.bus)
    due = _last_sweep.get(id(state), 0.0) + state.settings.commands.sweep_interval_seconds
    if time.monotonic() < due:
        return
    _last_sweep[id(state)] = time.monotonic()
    await sweep_commands(state)


TASKS: list[PeriodicTask] = [PeriodicTask("commands.sweep", sweep, TICK_SECONDS)]
