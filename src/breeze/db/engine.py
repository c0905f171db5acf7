"""Engines and the unit of work.

SQLite allows one writer at a time. Write transactions therefore start with
BEGIN IMMEDIATE, so they queue for the write lock up front instead of failing
half-way with SQLITE_BUSY when another writer committed in between. Reads use a
deferred BEGIN and never wait for writers (WAL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from breeze.settings import Settings

AfterCommit = Callable[[], Awaitable[None]]
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: AsyncEngine, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def _refuse_closed_connections(engine: AsyncEngine) -> None:
    """Hand out only connections the driver still holds open.

    When PostgreSQL restarts or terminates a backend it closes the socket, which asyncpg
    notices at once; raising DisconnectionError makes the pool discard that connection and
    take another. This replaces `pool_pre_ping`, which on asyncpg costs three round trips
    (BEGIN, a query, ROLLBACK) on every checkout: most of a heartbeat's database time.
    A connection that dies silently still fails its statement; SQLAlchemy then
    invalidates every connection of the pool opened before it.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = record.driver_connection
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the database closed this connection")


@dataclass
class Database:
    """The read and write engines of one database."""

    url: str
    read_engine: AsyncEngine
    write_engine: AsyncEngine
    is_sqlite: bool

    async def dispose(self) -> None:
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.read_engine, expire_on_commit=False) as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[UnitOfWork]:
        """One transaction; commits on success, then runs the after-commit hooks."""
        async with AsyncSession(self.write_engine, expire_on_commit=False) as session:
            uow = UnitOfWork(session=session, is_sqlite=self.is_sqlite)
            try:
                async with session.begin():
                    yield uow
            except BaseException:
                for discard in uow.after_rollback:
                    discard()
                raise
            for hook in uow.after_commit:
                await hook()


@dataclass
class UnitOfWork:
    session: AsyncSession
    is_sqlite: bool
    after_commit: list[AfterCommit] = field(default_factory=list)
    after_rollback: list[Callable[[], object]] = field(default_factory=list)

    def on_commit(self, hook: AfterCommit) -> None:
        """Run `hook` after the transaction commits (pushes, emails)."""
        self.after_commit.append(hook)

    def on_rollback(self, discard: Callable[[], object]) -> None:
        """Call `discard` (synchronous, quick) when the transaction does not commit: to
        drop work started in advance for after the commit."""
        self.after_rollback.append(discard)


def create_database(settings: Settings) -> Database:
    # Foreign-key columns take their type from the table they point at, so every
    # model must be known before rows are read (else UUIDs come back as strings).
    import breeze.db.models  # noqa: F401

    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        read_engine = create_async_engine(url)
        write_engine = create_async_engine(url)
        _configure_sqlite(read_engine, "BEGIN")
        _configure_sqlite(write_engine, "BEGIN IMMEDIATE")
        return Database(url, read_engine, write_engine, is_sqlite=True)
    engine = create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        # Short OLTP queries: PostgreSQL's JIT compile cost more than it saved (one group
        # count spent 542 of 624 ms compiling; bench/groups_README.md).
        connect_args={"server_settings": {"jit": "off"}},
    )
    _refuse_closed_connections(engine)
    return Database(url, engine, engine, is_sqlite=False)
