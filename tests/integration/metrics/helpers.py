"""Direct database access for the metrics tests: a Database of a live server's
database (to call the maintenance functions the worker calls) and raw inserts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from breeze.db.engine import Database, create_database
from breeze.metrics.models import DeviceMetric, DeviceMetricHourly
from breeze.settings import Settings
from tests.support.server import LiveServer


@asynccontextmanager
async def database_of(server: LiveServer) -> AsyncIterator[Database]:
    settings = Settings(database_url=server.database.url, data_dir=Path(server.data_dir))
    db = create_database(settings)
    try:
        yield db
    finally:
        await db.dispose()


def sample(device_id: uuid.UUID, at: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "device_id": device_id,
        "timestamp": at,
        "cpu_percent": 10.0,
        "ram_percent": 20.0,
        "ram_used_mb": 1000,
        "disk_percent": 30.0,
        "disk_used_gb": 40.0,
        "network_in_bytes": 100,
        "network_out_bytes": 50,
        "process_count": 100,
        "custom": None,
    }
    row.update(values)
    return row


async def insert_samples(db: Database, rows: list[dict[str, Any]]) -> None:
    async with db.write() as uow:
        await uow.session.execute(insert(DeviceMetric), rows)


async def insert_hourly(db: Database, device_id: uuid.UUID, hour: datetime) -> None:
    async with db.write() as uow:
        await uow.session.execute(
            insert(DeviceMetricHourly).values(device_id=device_id, hour=hour, samples=1)
        )


async def count_raw(db: Database, device_id: uuid.UUID) -> int:
    async with db.read() as s:
        stmt = select(func.count()).select_from(DeviceMetric)
        return int((await s.execute(stmt.where(DeviceMetric.device_id == device_id))).scalar_one())


async def hours_of(db: Database, device_id: uuid.UUID) -> list[datetime]:
    async with db.read() as s:
        stmt = select(DeviceMetricHourly.hour).where(DeviceMetricHourly.device_id == device_id)
        return sorted((await s.execute(stmt)).scalars())
