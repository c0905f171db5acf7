"""Periodic metrics work: hourly rollups, retention, daily partitions (PostgreSQL).

The heartbeat flush is not here: it belongs to the server process that accepted the
beats (metrics.buffer), and must run even where no worker loop runs.
"""

from __future__ import annotations

from breeze.core.state import AppState
from breeze.core.worker import PeriodicTask
from breeze.db.base import utcnow
from breeze.metrics.maintenance import apply_retention, ensure_partitions, rollup_completed_hours

ROLLUP_EVERY_SECONDS = 300.0
MAINTENANCE_EVERY_SECONDS = 3600.0


async def rollup(state: AppState) -> None:
    await rollup_completed_hours(
        state.db, now=utcnow(), raw_retention_days=state.settings.metrics.raw_retention_days
    )


async def maintain(state: AppState) -> None:
    """Partitions ahead of time first (so new rows skip the default partition), then
    retention."""
    now = utcnow()
    await ensure_partitions(state.db, today=now.date())
    metrics = state.settings.metrics
    await apply_retention(
        state.db,
        now=now,
        raw_days=metrics.raw_retention_days,
        hourly_days=metrics.hourly_retention_days,
    )


TASKS: list[PeriodicTask] = [
    PeriodicTask("metrics.rollup", rollup, ROLLUP_EVERY_SECONDS),
    PeriodicTask("metrics.maintenance", maintain, MAINTENANCE_EVERY_SECONDS),
]
