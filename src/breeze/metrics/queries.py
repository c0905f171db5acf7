"""Reads of device metrics, all behind a device visible through restrict()."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import InvalidInput
from breeze.metrics.models import DeviceMetric, DeviceMetricHourly
from breeze.metrics.schemas import HourlyPoint, RawPoint, Resolution
from breeze.metrics.storage import floor_hour

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW: dict[str, timedelta] = {"raw": timedelta(days=31), "1h": timedelta(days=400)}
MAX_POINTS = 50_000


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def window(
    start: datetime | None, end: datetime | None, resolution: Resolution, now: datetime
) -> tuple[datetime, datetime]:
    """[from, to) of a metrics request: default the last 24 hours; naive times are UTC."""
    try:
        end = _utc(end) if end is not None else now
        start = _utc(start) if start is not None else end - DEFAULT_WINDOW
    except (OverflowError, ValueError):
        raise InvalidInput("the time is out of range", field="from") from None
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'", field="to")
    limit = MAX_WINDOW[resolution]
    if end - start > limit:
        raise InvalidInput(
            f"the window may span at most {limit.days} days at resolution {resolution}",
            field="from",
        )
    return start, end


async def raw_points(
    session: AsyncSession, device_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[RawPoint], bool]:
    m = DeviceMetric
    stmt = (
        select(m)
        .where(m.device_id == device_id, m.timestamp >= start, m.timestamp < end)
        .order_by(m.timestamp)
        .limit(MAX_POINTS + 1)
    )
    rows = list((await session.execute(stmt)).scalars())
    points = [_raw(r) for r in rows[:MAX_POINTS]]
    return points, len(rows) > MAX_POINTS


def _raw(row: DeviceMetric) -> RawPoint:
    return RawPoint(
        timestamp=row.timestamp,
        cpu_percent=row.cpu_percent,
        ram_percent=row.ram_percent,
        ram_used_mb=row.ram_used_mb,
        disk_percent=row.disk_percent,
        disk_used_gb=row.disk_used_gb,
        network_in_bytes=row.network_in_bytes,
        network_out_bytes=row.network_out_bytes,
        process_count=row.process_count,
        custom=row.custom or {},
    )


async def hourly_points(
    session: AsyncSession, device_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[HourlyPoint], bool]:
    h = DeviceMetricHourly
    stmt = (
        select(h)
        .where(h.device_id == device_id, h.hour >= floor_hour(start), h.hour < end)
        .order_by(h.hour)
        .limit(MAX_POINTS + 1)
    )
    rows = list((await session.execute(stmt)).scalars())
    points = [_hourly(r) for r in rows[:MAX_POINTS]]
    return points, len(rows) > MAX_POINTS


def _hourly(row: DeviceMetricHourly) -> HourlyPoint:
    values: dict[str, Any] = {
        name: getattr(row, name) for name in HourlyPoint.model_fields if name != "timestamp"
    }
    return HourlyPoint(timestamp=row.hour, **values)
