"""Retention and, on PostgreSQL, daily partitions of the raw metrics table: called as
the worker calls them, against the live server's database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from breeze.metrics import storage
from breeze.metrics.maintenance import apply_retention, ensure_partitions
from tests.integration.metrics.helpers import (
    count_raw,
    database_of,
    hours_of,
    insert_hourly,
    insert_samples,
    sample,
)
from tests.support.databases import backend
from tests.support.server import LiveServer

postgres_only = pytest.mark.skipif(backend() != "postgresql", reason="partitions: PostgreSQL")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def test_retention_deletes_old_raw_and_hourly_rows(server: LiveServer) -> None:
    device_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with database_of(server) as db:
        await insert_samples(
            db,
            [
                sample(device_id, now - timedelta(days=40)),
                sample(device_id, now - timedelta(days=31)),
                sample(device_id, now - timedelta(days=29)),
                sample(device_id, now - timedelta(minutes=1)),
            ],
        )
        old_hour = storage.floor_hour(now - timedelta(days=400))
        kept_hour = storage.floor_hour(now - timedelta(days=10))
        await insert_hourly(db, device_id, old_hour)
        await insert_hourly(db, device_id, kept_hour)
        result = await apply_retention(db, now=now, raw_days=30, hourly_days=365)
        assert result.raw_deleted >= 2 and result.hourly_deleted >= 1
        assert await count_raw(db, device_id) == 2
        assert await hours_of(db, device_id) == [kept_hour]
        again = await apply_retention(db, now=now, raw_days=30, hourly_days=365)
        assert await count_raw(db, device_id) == 2 and again.dropped_partitions == []


async def _partition_of(db: object, device_id: uuid.UUID) -> list[str]:
    async with db.read() as s:  # type: ignore[attr-defined]
        rows = await s.execute(
            text("SELECT tableoid::regclass::text FROM device_metrics WHERE device_id = :d"),
            {"d": device_id},
        )
        return [str(r[0]) for r in rows]


@postgres_only
async def test_daily_partitions_are_made_ahead(server: LiveServer) -> None:
    today = datetime.now(UTC).date()
    async with database_of(server) as db:
        await ensure_partitions(db, today=today)
        assert await ensure_partitions(db, today=today) == []  # nothing left to make
        async with db.read() as s:
            have = await storage.daily_partitions(s)
        for offset in range(4):
            day = today + timedelta(days=offset)
            assert have[storage.partition_name(day)] == day
        device_id = uuid.uuid4()
        await insert_samples(db, [sample(device_id, datetime.now(UTC))])
        assert await _partition_of(db, device_id) == [storage.partition_name(today)]


@postgres_only
async def test_rows_in_the_default_partition_move_into_a_new_partition(
    server: LiveServer,
) -> None:
    day = datetime.now(UTC).date() + timedelta(days=20)
    device_id = uuid.uuid4()
    at = _midnight(day) + timedelta(hours=12)
    async with database_of(server) as db:
        await insert_samples(
            db, [sample(device_id, at), sample(device_id, at + timedelta(hours=1))]
        )
        assert await _partition_of(db, device_id) == [storage.DEFAULT_PARTITION] * 2
        assert await ensure_partitions(db, today=day, days_ahead=0) == [storage.partition_name(day)]
        assert await _partition_of(db, device_id) == [storage.partition_name(day)] * 2
        async with db.write() as uow:
            await storage.drop_partition(uow.session, storage.partition_name(day))


@postgres_only
async def test_partitions_past_retention_are_dropped_whole(server: LiveServer) -> None:
    now = datetime.now(UTC)
    old_day = (now - timedelta(days=60)).date()
    edge_day = (now - timedelta(days=30)).date()  # holds rows both sides of the cutoff
    device_id = uuid.uuid4()
    async with database_of(server) as db:
        await ensure_partitions(db, today=old_day, days_ahead=0)
        await ensure_partitions(db, today=edge_day, days_ahead=0)
        await insert_samples(
            db,
            [
                sample(device_id, _midnight(old_day) + timedelta(hours=1)),
                sample(device_id, _midnight(edge_day)),
                sample(device_id, _midnight(edge_day) + timedelta(hours=23, minutes=59)),
            ],
        )
        result = await apply_retention(
            db,
            now=_midnight(edge_day) + timedelta(days=30, hours=12),
            raw_days=30,
            hourly_days=365,
        )
        assert storage.partition_name(old_day) in result.dropped_partitions
        assert storage.partition_name(edge_day) not in result.dropped_partitions
        async with db.read() as s:
            have = await storage.daily_partitions(s)
        assert storage.partition_name(old_day) not in have
        assert await _partition_of(db, device_id) == [storage.partition_name(edge_day)]
        async with db.write() as uow:
            await storage.drop_partition(uow.session, storage.partition_name(edge_day))
