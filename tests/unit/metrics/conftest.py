"""A real SQLite database (the embedded engine) with one partner, org, site and device."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from breeze.db.base import utcnow
from breeze.db.engine import Database, create_database
from breeze.db.models import Base
from breeze.devices.models import Device
from breeze.settings import Settings
from breeze.tenancy.models import Organization, Partner, Site


@dataclass
class Place:
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID


async def create_tables(db: Database) -> None:
    async with db.write_engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


@pytest.fixture
async def bare_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database without tables yet."""
    db = create_database(Settings(data_dir=tmp_path))
    yield db
    await db.dispose()


@pytest.fixture
async def db(bare_db: Database) -> Database:
    await create_tables(bare_db)
    return bare_db


@pytest.fixture
async def place(db: Database) -> Place:
    p = Place(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    async with db.write() as uow:
        uow.session.add(Partner(id=p.partner_id, name="P", slug=f"p-{p.partner_id.hex[:8]}"))
        await uow.session.flush()
        uow.session.add(Organization(id=p.org_id, partner_id=p.partner_id, name="O", slug="o"))
        await uow.session.flush()
        uow.session.add(Site(id=p.site_id, partner_id=p.partner_id, org_id=p.org_id, name="S"))
    return p


async def add_device(db: Database, place: Place, **fields: object) -> uuid.UUID:
    device_id = uuid.uuid4()
    values: dict[str, object] = {
        "id": device_id,
        "partner_id": place.partner_id,
        "org_id": place.org_id,
        "site_id": place.site_id,
        "agent_id": "agt_" + device_id.hex[:20],
        "machine_id": device_id.hex,
        "hostname": "h",
        "os_type": "linux",
        "status": "online",
        "last_seen_at": utcnow(),
        "heartbeat_interval_seconds": 60,
        **fields,
    }
    async with db.write() as uow:
        uow.session.add(Device(**values))
    return device_id
