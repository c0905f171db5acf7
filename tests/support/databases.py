"""Fresh databases for a test run: a SQLite file, or a new PostgreSQL database.

PostgreSQL is used when BREEZE_TEST_DATABASE_URL is set (an asyncpg URL of a
server where we may CREATE DATABASE); each TestDatabase gets its own database.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

PG_ENV = "BREEZE_TEST_DATABASE_URL"


def backend() -> str:
    return "postgresql" if os.environ.get(PG_ENV) else "sqlite"


@dataclass
class TestDatabase:
    url: str
    pg_name: str | None = None

    def drop(self) -> None:
        if self.pg_name:
            _run(_pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))


async def _pg_admin(sql: str) -> None:
    import asyncpg

    url = make_url(os.environ[PG_ENV])
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run(work: Coroutine[Any, Any, None]) -> None:
    """asyncio.run, also from a thread whose loop is running (Playwright's sync API runs
    one in the main thread while a browser is open)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(work)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


def new_database(tmp: Path) -> TestDatabase:
    if backend() == "sqlite":
        tmp.mkdir(parents=True, exist_ok=True)
        return TestDatabase(f"sqlite+aiosqlite:///{tmp / f'breeze-{uuid.uuid4().hex[:8]}.db'}")
    name = f"breeze_test_{uuid.uuid4().hex[:12]}"
    _run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(os.environ[PG_ENV]).set(database=name)
    return TestDatabase(url.render_as_string(hide_password=False), pg_name=name)


@contextmanager
def migrated_database(tmp: Path) -> Iterator[str]:
    """The URL of a new database at the newest migration, dropped after the block."""
    from breeze.db.migrate import upgrade
    from breeze.settings import Settings

    database = new_database(tmp)
    try:
        upgrade(Settings(data_dir=tmp, database_url=database.url))
        yield database.url
    finally:
        database.drop()
