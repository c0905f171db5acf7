"""The PostgreSQL pool never hands out a connection the server has closed (a restart, an
administrator terminating backends), without paying a ping round trip per checkout."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from breeze.db.engine import create_database
from breeze.settings import Settings
from tests.support.databases import _pg_admin, backend, new_database

pytestmark = pytest.mark.skipif(
    backend() != "postgresql", reason="terminating backends: PostgreSQL"
)


async def _backend_pid(db: object) -> int:
    async with db.read() as session:  # type: ignore[attr-defined]
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_postgresql_terminated_is_replaced_not_used(tmp_path: Path) -> None:
    database = new_database(tmp_path)
    db = create_database(Settings(database_url=database.url, data_dir=tmp_path))
    try:
        first = await _backend_pid(db)
        assert await _backend_pid(db) == first  # pooled: the same connection comes back

        await _pg_admin(f"SELECT pg_terminate_backend({first})")
        for _ in range(50):  # the driver learns of the closed socket from the event loop
            await asyncio.sleep(0.02)
        second = await _backend_pid(db)  # no error: the closed one was discarded
        assert second != first

        async with db.write() as uow:
            assert (await uow.session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.dispose()
        await asyncio.to_thread(database.drop)
