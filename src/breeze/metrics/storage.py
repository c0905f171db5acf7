"""The metrics tables' SQL, with the PostgreSQL-only parts behind one seam (rule 8).

Raw samples are written as one `INSERT ... ON CONFLICT DO NOTHING` executed for many rows (a flush
retried after an ambiguous failure stores nothing twice). Hourly rollups are
`INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE`, so recomputing an hour
yields the same row. On PostgreSQL `device_metrics` is range-partitioned by day:
daily partitions `device_metrics_dYYYYMMDD` are made ahead of time and dropped whole
once past retention; rows that landed in the DEFAULT partition are moved into a
new partition when it is made.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Insert, delete, func, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.db.sql import is_postgresql
from breeze.metrics.models import DeviceMetric, DeviceMetricHourly

CHUNK_ROWS = 500  # rows per executemany: bounds one statement's memory
HOUR = timedelta(hours=1)
PARENT = "device_metrics"
DEFAULT_PARTITION = "device_metrics_default"
DAILY = re.compile(r"^device_metrics_d(\d{8})$")
MAINTENANCE_LOCK_TIMEOUT = "5s"


def _insert(session: AsyncSession, model: Any) -> Any:
    dialect = postgresql if is_postgresql(session) else sqlite
    return dialect.insert(model)


async def insert_samples(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store raw samples in bulk; a sample already stored (same device and instant) is
    left as it is. One statement executed for many rows (the driver's executemany), so it
    is compiled and prepared once, where a multi-row VALUES list is a new statement for
    every batch size."""
    table = DeviceMetric.__table__
    stmt = _insert(session, table).on_conflict_do_nothing(index_elements=["device_id", "timestamp"])
    for start in range(0, len(rows), CHUNK_ROWS):
        await session.execute(stmt, list(rows[start : start + CHUNK_ROWS]))


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def upsert_hour(session: AsyncSession, hour: datetime) -> None:
    """(Re)compute every device's rollup of the hour starting at `hour`."""
    m = DeviceMetric
    columns = [
        "device_id",
        "hour",
        "samples",
        "cpu_min",
        "cpu_avg",
        "cpu_max",
        "ram_min",
        "ram_avg",
        "ram_max",
        "disk_min",
        "disk_avg",
        "disk_max",
        "ram_used_mb_avg",
        "disk_used_gb_avg",
        "network_in_bytes_max",
        "network_out_bytes_max",
        "process_count_avg",
    ]
    source = (
        select(
            m.device_id,
            literal(hour, DeviceMetricHourly.hour.type),
            func.count(),
            func.min(m.cpu_percent),
            func.avg(m.cpu_percent),
            func.max(m.cpu_percent),
            func.min(m.ram_percent),
            func.avg(m.ram_percent),
            func.max(m.ram_percent),
            func.min(m.disk_percent),
            func.avg(m.disk_percent),
            func.max(m.disk_percent),
            func.avg(m.ram_used_mb),
            func.avg(m.disk_used_gb),
            func.max(m.network_in_bytes),
            func.max(m.network_out_bytes),
            func.avg(m.process_count),
        )
        .where(m.timestamp >= hour, m.timestamp < hour + HOUR)
        .group_by(m.device_id)
    )
    stmt: Insert = _insert(session, DeviceMetricHourly).from_select(columns, source)
    excluded = stmt.excluded  # type: ignore[attr-defined]
    await session.execute(
        stmt.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["device_id", "hour"],
            set_={name: getattr(excluded, name) for name in columns[2:]},
        )
    )


async def latest_rollup(session: AsyncSession) -> datetime | None:
    value = (await session.execute(select(func.max(DeviceMetricHourly.hour)))).scalar_one()
    return value if value is None or isinstance(value, datetime) else None


async def earliest_sample(session: AsyncSession, since: datetime) -> datetime | None:
    stmt = select(func.min(DeviceMetric.timestamp)).where(DeviceMetric.timestamp >= since)
    value = (await session.execute(stmt)).scalar_one()
    return value if isinstance(value, datetime) else None


async def delete_raw_before(session: AsyncSession, cutoff: datetime) -> int:
    result = await session.execute(delete(DeviceMetric).where(DeviceMetric.timestamp < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_hourly_before(session: AsyncSession, cutoff: datetime) -> int:
    result = await session.execute(
        delete(DeviceMetricHourly).where(DeviceMetricHourly.hour < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# PostgreSQL partitions ------------------------------------------------------


def partition_name(day: date) -> str:
    return f"{PARENT}_d{day:%Y%m%d}"


def _bound(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}+00"


_MOVE_FROM_DEFAULT = text(
    "WITH moved AS (DELETE FROM device_metrics_default "
    "WHERE timestamp >= :low AND timestamp < :high RETURNING *) "
    "INSERT INTO _metrics_move SELECT * FROM moved"
)


async def _exists(session: AsyncSession, name: str) -> bool:
    found = await session.execute(text("SELECT to_regclass(:n)"), {"n": name})
    return found.scalar_one() is not None


async def daily_partitions(session: AsyncSession) -> dict[str, date]:
    """Daily partitions of device_metrics, by name."""
    rows = await session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": PARENT},
    )
    found: dict[str, date] = {}
    for (name,) in rows:
        match = DAILY.match(str(name))
        if match:
            digits = match.group(1)
            found[str(name)] = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    return found


async def create_partition(session: AsyncSession, day: date) -> bool:
    """Make the partition of `day` unless it exists; returns whether it was made.

    Rows of that day already in the DEFAULT partition would make CREATE fail, so they
    are moved aside and back in the same transaction, under a table lock that keeps
    new rows out meanwhile (a flush waits a moment; lock_timeout bounds our wait).
    """
    name = partition_name(day)
    if await _exists(session, name):
        return False
    await session.execute(text(f"SET LOCAL lock_timeout = '{MAINTENANCE_LOCK_TIMEOUT}'"))
    await session.execute(text(f"LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE"))
    if await _exists(session, name):  # another worker made it while we waited
        return False
    # Bounds are literals we format from a date: DDL takes no parameters.
    has_default = await _exists(session, DEFAULT_PARTITION)
    low = datetime(day.year, day.month, day.day, tzinfo=UTC)
    high = low + timedelta(days=1)
    if has_default:
        await session.execute(
            text(f"CREATE TEMP TABLE _metrics_move (LIKE {PARENT}) ON COMMIT DROP")
        )
        await session.execute(_MOVE_FROM_DEFAULT, {"low": low, "high": high})
    await session.execute(
        text(
            f"CREATE TABLE {name} PARTITION OF {PARENT} "
            f"FOR VALUES FROM ('{_bound(low)}') TO ('{_bound(high)}')"
        )
    )
    if has_default:
        await session.execute(text(f"INSERT INTO {PARENT} SELECT * FROM _metrics_move"))  # noqa: S608
    return True


async def drop_partition(session: AsyncSession, name: str) -> None:
    if not DAILY.match(name):
        raise ValueError(f"not a daily metrics partition: {name}")
    await session.execute(text(f"SET LOCAL lock_timeout = '{MAINTENANCE_LOCK_TIMEOUT}'"))
    await session.execute(text(f"DROP TABLE IF EXISTS {name}"))
