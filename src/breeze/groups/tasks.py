"""The groups sweep: predefined groups for every organization, version keys of software
stored before they existed, and every group re-evaluated (rules on time such as "last
seen more than 7 days ago" change without any event)."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from breeze.core.state import AppState
from breeze.core.worker import PeriodicTask
from breeze.db.engine import Database
from breeze.devices.models import DeviceSoftware
from breeze.devices.versions import version_key
from breeze.groups.evaluation import evaluate_all
from breeze.groups.predefined import ensure_predefined, orgs_missing_predefined

log = logging.getLogger("breeze.groups")
SWEEP_EVERY_SECONDS = 120.0
BACKFILL_BATCH = 5000
BACKFILL_BATCHES_PER_RUN = 20


async def create_predefined(db: Database) -> int:
    async with db.read() as s:
        orgs = await orgs_missing_predefined(s)
    for org in orgs:
        async with db.write() as uow:
            await ensure_predefined(uow.session, org)
    return len(orgs)


async def backfill_version_keys(db: Database) -> int:
    """version_key for software rows stored before the column existed."""
    done = 0
    for _ in range(BACKFILL_BATCHES_PER_RUN):
        async with db.write() as uow:
            rows = (
                await uow.session.execute(
                    select(DeviceSoftware.id, DeviceSoftware.version)
                    .where(
                        DeviceSoftware.version_key.is_(None), DeviceSoftware.version.is_not(None)
                    )
                    .limit(BACKFILL_BATCH)
                )
            ).all()
            todo = [{"id": i, "version_key": version_key(v) or ""} for i, v in rows]
            if todo:
                await uow.session.execute(update(DeviceSoftware), todo)
        done += len(todo)
        if len(rows) < BACKFILL_BATCH:
            break
    return done


async def sweep(state: AppState) -> None:
    await create_predefined(state.db)
    await backfill_version_keys(state.db)
    await evaluate_all(state.db)


TASKS: list[PeriodicTask] = [PeriodicTask("groups.sweep", sweep, SWEEP_EVERY_SECONDS)]
