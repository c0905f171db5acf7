"""The heartbeat buffer against a real SQLite database: bounded, stores every row it
accepted (also after a failed flush), revives offline devices, drains on close."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from breeze.core.bus import MemoryBus
from breeze.core.errors import InvalidInput
from breeze.db.base import utcnow
from breeze.db.engine import Database
from breeze.devices.models import Device
from breeze.devices.presence import sweep_offline
from breeze.metrics.buffer import MetricsBuffer, check_heartbeat
from breeze.metrics.models import DeviceMetric
from breeze.settings import MetricsSettings
from breeze_protocol.metrics import HeartbeatRequest
from tests.unit.metrics.conftest import Place, add_device, create_tables


def body(**fields: Any) -> HeartbeatRequest:
    metrics = {
        "cpu_percent": 5.0,
        "ram_percent": 10.0,
        "ram_used_mb": 100,
        "network_in_bytes": 1,
        "network_out_bytes": 2,
        "process_count": 3,
        **fields.pop("metrics", {}),
    }
    return HeartbeatRequest.model_validate(
        {"agent_version": "1.0", "uptime_seconds": 5, "metrics": metrics, **fields}
    )


def settings(**fields: Any) -> MetricsSettings:
    return MetricsSettings(**{"flush_interval_seconds": 1.0, **fields})


async def stored(db: Database, device_id: uuid.UUID | None = None) -> list[Any]:
    stmt = select(DeviceMetric).order_by(DeviceMetric.timestamp)
    if device_id is not None:
        stmt = stmt.where(DeviceMetric.device_id == device_id)
    async with db.read() as s:
        return list((await s.execute(stmt)).scalars())


def offer(buffer: MetricsBuffer, device_id: uuid.UUID, place: Place, **fields: Any) -> bool:
    return buffer.offer(
        device_id=device_id, partner_id=place.partner_id, org_id=place.org_id, body=body(**fields)
    )


async def test_the_buffer_is_bounded_and_frees_space_once_flushed(
    db: Database, place: Place
) -> None:
    buffer = MetricsBuffer(db, MemoryBus(), settings(buffer_max_rows=3))
    device = await add_device(db, place)
    assert [offer(buffer, device, place) for _ in range(4)] == [True, True, True, False]
    assert (buffer.size, buffer.refused) == (3, 1)
    assert await buffer.flush() == 3
    assert buffer.size == 0 and len(await stored(db, device)) == 3
    assert offer(buffer, device, place)
    await buffer.close()
    assert len(await stored(db, device)) == 4


async def test_beats_of_one_device_get_distinct_increasing_timestamps(
    db: Database, place: Place
) -> None:
    buffer = MetricsBuffer(db, MemoryBus(), settings())
    device = await add_device(db, place)
    for n in range(200):  # faster than the clock ticks
        assert offer(buffer, device, place, metrics={"process_count": n})
    await buffer.close()
    rows = await stored(db, device)
    assert [r.process_count for r in rows] == list(range(200))
    assert len({r.timestamp for r in rows}) == 200


async def test_a_failed_flush_keeps_every_row_for_the_next_attempt(
    bare_db: Database,
) -> None:
    buffer = MetricsBuffer(bare_db, MemoryBus(), settings(buffer_max_rows=10))
    place = Place(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    devices = [uuid.uuid4() for _ in range(5)]
    for device in devices:
        assert offer(buffer, device, place)
    assert await buffer.flush() == 0  # no tables: the write fails
    assert buffer.size == 5 and buffer.failed_flushes >= 1
    assert offer(buffer, devices[0], place)  # rows kept count against the bound
    await create_tables(bare_db)
    await buffer.close()  # however the flusher and close share the work, all is stored
    assert buffer.size == 0
    rows = await stored(bare_db)
    assert sorted({r.device_id for r in rows}) == sorted(devices)
    assert len(rows) == 6
    assert all(r.custom is None for r in rows)


async def test_the_flusher_writes_within_the_interval(db: Database, place: Place) -> None:
    buffer = MetricsBuffer(db, MemoryBus(), settings(flush_interval_seconds=0.2))
    device = await add_device(db, place)
    offer(buffer, device, place)  # starts the flusher on this loop
    for _ in range(50):
        if await stored(db, device):
            break
        await asyncio.sleep(0.05)
    assert len(await stored(db, device)) == 1
    await buffer.close()
    assert not offer(buffer, device, place)  # closed: refuse rather than lose


async def test_heartbeats_update_presence_and_revive_offline_devices(
    db: Database, place: Place
) -> None:
    bus = MemoryBus()
    buffer = MetricsBuffer(db, bus, settings())
    stale = utcnow() - timedelta(minutes=10)
    online = await add_device(db, place, last_seen_at=stale, heartbeat_interval_seconds=60)
    decommissioned = await add_device(db, place, last_seen_at=stale, decommissioned_at=stale)
    async with db.write() as uow:
        swept = await sweep_offline(uow.session, now=utcnow(), missed=3)
    assert [c.device_id for c in swept] == [online]
    async with db.write() as uow:
        assert await sweep_offline(uow.session, now=utcnow(), missed=3) == []
    async with bus.subscribe("device.online") as events:
        offer(buffer, online, place, last_user="carol", pending_reboot=True, uptime_seconds=77)
        offer(buffer, decommissioned, place)
        await buffer.flush()
        topic, event = await asyncio.wait_for(events.get(), 2)
        assert (topic, event["device_id"], event["org_id"]) == (
            "device.online",
            str(online),
            str(place.org_id),
        )
        assert events.empty()
    async with db.read() as s:
        rows = {d.id: d for d in (await s.execute(select(Device))).scalars()}
    assert rows[online].status == "online" and rows[online].last_seen_at > stale
    assert (rows[online].last_user, rows[online].pending_reboot) == ("carol", True)
    assert rows[online].uptime_seconds == 77
    assert rows[decommissioned].last_seen_at == stale  # decommissioned: untouched
    await buffer.close()


async def test_the_sweep_uses_each_devices_own_interval(db: Database, place: Place) -> None:
    now = utcnow()
    fast = await add_device(
        db, place, last_seen_at=now - timedelta(seconds=20), heartbeat_interval_seconds=5
    )
    slow = await add_device(
        db, place, last_seen_at=now - timedelta(seconds=20), heartbeat_interval_seconds=60
    )
    async with db.write() as uow:
        swept = await sweep_offline(uow.session, now=now, missed=3)
    assert [c.device_id for c in swept] == [fast]
    async with db.read() as s:
        count = select(func.count()).select_from(Device).where(Device.status == "online")
        assert (await s.execute(count)).scalar_one() == 1
    assert slow


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"agent_version": "x" * 51}, "agent_version"),
        ({"last_user": "a\x00b"}, "last_user"),
        ({"metrics": {"process_count": 2**31}}, "metrics.process_count"),
        ({"metrics": {"ram_used_mb": 2**63}}, "metrics.ram_used_mb"),
        ({"metrics": {"disk_used_gb": float("inf")}}, "metrics.disk_used_gb"),
        ({"metrics": {"custom": {"k": float("nan")}}}, "metrics.custom.k"),
        ({"metrics": {"custom": {"k\x00": 1}}}, "metrics.custom"),
        ({"metrics": {"custom": {str(n): n for n in range(101)}}}, "metrics.custom"),
        ({"uptime_seconds": 2**63}, "uptime_seconds"),
    ],
)
def test_check_heartbeat_refuses_what_the_database_would(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_heartbeat(body(**fields))
    assert caught.value.problems[0].field == field


def test_check_heartbeat_accepts_a_normal_beat() -> None:
    check_heartbeat(body(metrics={"custom": {"queue": 3, "ok": True, "note": "fine"}}))
