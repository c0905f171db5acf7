"""The periodic groups sweep in a real database: predefined groups for every live
organization (once), version keys of old software rows, and time-based rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

import breeze.db.models  # noqa: F401  (every table)
from breeze.db.base import Base, utcnow
from breeze.db.engine import Database
from breeze.devices.models import Device, DeviceSoftware
from breeze.devices.versions import version_key
from breeze.groups.evaluation import evaluate_all, reevaluate_devices
from breeze.groups.models import DeviceGroup, DeviceGroupMember
from breeze.groups.tasks import backfill_version_keys, create_predefined
from breeze.tenancy.models import Organization, Partner, Site
from tests.support.databases import new_database


async def _scenario(url: str) -> None:
    engine = create_async_engine(url)
    db = Database(url, engine, engine, is_sqlite=url.startswith("sqlite"))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    partner = Partner(id=uuid.uuid4(), name="P", slug=f"p-{uuid.uuid4().hex[:6]}")
    org = Organization(id=uuid.uuid4(), partner_id=partner.id, name="O", slug="o")
    gone = Organization(
        id=uuid.uuid4(), partner_id=partner.id, name="G", slug="g", deleted_at=utcnow()
    )
    site = Site(id=uuid.uuid4(), partner_id=partner.id, org_id=org.id, name="S")
    now = utcnow()

    def device(name: str, os_type: str, days: float) -> Device:
        return Device(
            id=uuid.uuid4(),
            partner_id=partner.id,
            org_id=org.id,
            site_id=site.id,
            agent_id=f"agt-{uuid.uuid4().hex}",
            machine_id=name,
            hostname=name,
            os_type=os_type,
            last_seen_at=now - timedelta(days=days),
        )

    fresh, stale = device("fresh", "linux", 1), device("stale", "windows", 6.9)
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        s.add(partner)
        await s.flush()
        s.add_all([org, gone])
        await s.flush()
        s.add(site)
        await s.flush()
        s.add_all([fresh, stale])
        await s.flush()
        s.add_all(
            [
                DeviceSoftware(device_id=fresh.id, name="a", version="1.10"),
                DeviceSoftware(device_id=fresh.id, name="b", version=" "),
                DeviceSoftware(device_id=fresh.id, name="c", version=None),
            ]
        )
    try:
        assert await create_predefined(db) == 1
        assert await create_predefined(db) == 0  # idempotent
        assert await backfill_version_keys(db) == 2
        assert await backfill_version_keys(db) == 0
        async with db.read() as s:
            groups = {
                g.predefined: g
                for g in (await s.execute(select(DeviceGroup))).scalars()
                if g.predefined
            }
            keys = dict(
                (await s.execute(select(DeviceSoftware.name, DeviceSoftware.version_key))).all()
            )
        assert set(groups) == {"windows", "linux", "macos", "servers", "offline_7d"}
        assert {g.org_id for g in groups.values()} == {org.id}
        assert keys == {"a": version_key("1.10"), "b": "", "c": None}

        async def members(key: str) -> set[uuid.UUID]:
            async with db.read() as s:
                rows = await s.execute(
                    select(DeviceGroupMember.device_id).where(
                        DeviceGroupMember.group_id == groups[key].id
                    )
                )
                return set(rows.scalars())

        assert await members("linux") == {fresh.id}
        assert await members("offline_7d") == set()
        # Time passes: the sweep moves the stale device into "offline more than 7 days".
        assert await evaluate_all(db, now=now + timedelta(days=1)) == 5
        assert await members("offline_7d") == {stale.id}
        # A device that changed is re-evaluated on its own.
        async with db.write() as uow:
            row = await uow.session.get(Device, stale.id)
            assert row is not None
            row.os_type = "linux"
        await reevaluate_devices(db, [stale.id])
        assert await members("linux") == {fresh.id, stale.id}
        assert await members("windows") == set()
    finally:
        await engine.dispose()


def test_sweep(tmp_path: Path) -> None:
    database = new_database(tmp_path)
    try:
        asyncio.run(_scenario(database.url))
    finally:
        database.drop()
