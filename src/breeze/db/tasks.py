"""Periodic database housekeeping (breeze.db.maintenance)."""

from __future__ import annotations

from breeze.core.state import AppState
from breeze.core.worker import PeriodicTask
from breeze.db.maintenance import postgres_housekeeping, sqlite_statistics

# autovacuum_naptime's default: a table is looked at within a minute of needing it.
POSTGRES_EVERY_SECONDS = 60.0
SQLITE_EVERY_SECONDS = 3600.0


async def postgres(state: AppState) -> None:
    await postgres_housekeeping(state.db)


async def sqlite(state: AppState) -> None:
    await sqlite_statistics(state.db)


TASKS: list[PeriodicTask] = [
    PeriodicTask("db.housekeeping", postgres, POSTGRES_EVERY_SECONDS),
    PeriodicTask("db.sqlite_statistics", sqlite, SQLITE_EVERY_SECONDS),
]
