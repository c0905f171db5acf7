"""The embedded SQLite database: WAL, foreign keys, and writers that queue, not fail."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from breeze.db.engine import create_database
from breeze.settings import Settings


async def test_pragmas_and_concurrent_read_modify_write(tmp_path: Path) -> None:
    db = create_database(Settings(data_dir=tmp_path))
    try:
        async with db.read() as s:
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        async with db.write() as uow:
            await uow.session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            await uow.session.execute(text("INSERT INTO counter VALUES (0)"))

        async def bump() -> None:
            # Read, then write in the same transaction: would hit SQLITE_BUSY under
            # deferred transactions when another writer commits in between.
            async with db.write() as uow:
                n = (await uow.session.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.001)
                await uow.session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

        await asyncio.gather(*(bump() for _ in range(40)))
        async with db.read() as s:
            assert (await s.execute(text("SELECT n FROM counter"))).scalar_one() == 40
    finally:
        await db.dispose()
