"""Group rules on software are index probes, not scans of every package of a device.

The predefined Servers group has nine "software not_installed" leaves; evaluated for
one device after each inventory upload, and for the whole fleet by the sweep every two
minutes. With a scan per leaf each of the sweep's two statements for it took ~25 s at
5,000 devices (seen with pg_stat_statements during a benchmark run).
These tests read the plan of the rule engine's own SQL on the migrated schema, so a
change to the folded-name expression that the index no longer matches fails here
(PostgreSQL, the mode for large fleets).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.db.base import utcnow
from breeze.db.engine import create_database
from breeze.db.sql import ascii_lower
from breeze.devices.models import Device, DeviceSoftware
from breeze.groups.predefined import SERVERS
from breeze.groups.rules import rule_condition
from breeze.settings import Settings
from tests.support.databases import backend, migrated_database

FOLDED_INDEX = "ix_device_software_device_folded_name"


async def _plan(session: AsyncSession, statement: object) -> str:
    dialect = session.get_bind().dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
    if dialect.name == "postgresql":
        # Empty tables: take the cheapest plan that uses an index, if one can be used.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = await session.execute(text("EXPLAIN " + sql))
    else:
        rows = await session.execute(text("EXPLAIN QUERY PLAN " + sql))
    return "\n".join(str(r[-1]) for r in rows)


async def _plans(url: str, tmp_path: Path) -> tuple[str, str, str]:
    db = create_database(Settings(database_url=url, data_dir=tmp_path))
    device_id = uuid.uuid4()
    try:
        async with db.read() as session:
            servers = await _plan(
                session,
                select(Device.id).where(
                    rule_condition(SERVERS, now=utcnow()), Device.id == device_id
                ),
            )
        async with db.read() as session:
            probe = await _plan(
                session,
                select(DeviceSoftware.id).where(
                    DeviceSoftware.device_id == device_id,
                    ascii_lower(DeviceSoftware.name) == "openssl",
                ),
            )
        async with db.read() as session:
            backfill = await _plan(
                session,
                select(DeviceSoftware.id, DeviceSoftware.version)
                .where(DeviceSoftware.version_key.is_(None), DeviceSoftware.version.is_not(None))
                .limit(5000),
            )
        return servers, probe, backfill
    finally:
        await db.dispose()


def test_software_leaves_and_the_version_key_backfill_use_their_indexes(tmp_path: Path) -> None:
    with migrated_database(tmp_path) as url:
        servers, probe, backfill = asyncio.run(_plans(url, tmp_path))
    assert "ix_device_software_version_key_missing" in backfill, backfill
    if backend() == "postgresql":
        assert FOLDED_INDEX in probe, probe
        assert FOLDED_INDEX in servers, servers
    else:
        # Without ANALYZE statistics SQLite's planner prefers the covering
        # (device_id, name) index; the folded one is there for when it has them.
        assert "device_software USING" in probe and "INDEX" in probe, probe
