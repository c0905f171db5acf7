"""Rollups, retention and (on PostgreSQL) daily partitions of the raw metrics table.

Every function here is safe to run again and in several workers at once: rollups
are upserts of recomputed hours, retention deletes by age, partitions are made
under a table lock with `to_regclass` re-checked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from breeze.db.engine import Database
from breeze.metrics import storage

log = logging.getLogger("breeze.metrics")
ROLLUP_LOOKBACK = timedelta(hours=2)  # recompute recent hours: late flushes land there
PARTITION_DAYS_AHEAD = 3


async def rollup_completed_hours(
    db: Database, *, now: datetime, raw_retention_days: int, since: datetime | None = None
) -> int:
    """Roll raw samples up into hourly rows for every completed hour not yet done (and
    the last few again). `since` forces a recomputation from that time on. Returns the
    number of hours computed."""
    end = storage.floor_hour(now)
    oldest = end - timedelta(days=raw_retention_days)
    if since is not None:
        start = max(storage.floor_hour(since), oldest)
    else:
        async with db.read() as session:
            last = await storage.latest_rollup(session)
            first = await storage.earliest_sample(session, oldest) if last is None else None
        if last is not None:
            start = max(last - ROLLUP_LOOKBACK, oldest)
        elif first is not None:
            start = storage.floor_hour(first)
        else:
            return 0
    hours = 0
    hour = start
    while hour < end:
        async with db.write() as uow:
            await storage.upsert_hour(uow.session, hour)
        hour += storage.HOUR
        hours += 1
    return hours


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def ensure_partitions(
    db: Database, *, today: date, days_ahead: int = PARTITION_DAYS_AHEAD
) -> list[str]:
    """PostgreSQL: make the daily partitions of today and the next days. Returns the
    names made now; a partition that cannot be made (lock timeout) is retried next run."""
    if db.is_sqlite:
        return []
    made: list[str] = []
    for offset in range(days_ahead + 1):
        day = today + timedelta(days=offset)
        try:
            async with db.write() as uow:
                if await storage.create_partition(uow.session, day):
                    made.append(storage.partition_name(day))
        except Exception:
            log.exception("could not create metrics partition for %s; retrying later", day)
    return made


@dataclass
class RetentionResult:
    dropped_partitions: list[str] = field(default_factory=list)
    raw_deleted: int = 0
    hourly_deleted: int = 0


async def apply_retention(
    db: Database, *, now: datetime, raw_days: int, hourly_days: int
) -> RetentionResult:
    """Delete raw samples older than `raw_days` and hourly rows older than `hourly_days`;
    on PostgreSQL whole daily partitions past retention are dropped first."""
    result = RetentionResult()
    raw_cutoff = now - timedelta(days=raw_days)
    if not db.is_sqlite:
        async with db.read() as session:
            partitions = await storage.daily_partitions(session)
        for name, day in sorted(partitions.items(), key=lambda item: item[1]):
            if _midnight(day + timedelta(days=1)) > raw_cutoff:
                continue
            try:
                async with db.write() as uow:
                    await storage.drop_partition(uow.session, name)
                result.dropped_partitions.append(name)
            except Exception:
                log.exception("could not drop metrics partition %s; retrying later", name)
    async with db.write() as uow:
        result.raw_deleted = await storage.delete_raw_before(uow.session, raw_cutoff)
        result.hourly_deleted = await storage.delete_hourly_before(
            uow.session, now - timedelta(days=hourly_days)
        )
    return result
