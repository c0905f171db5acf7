"""Breeze keeps planner statistics itself where nothing else does: PostgreSQL with
autovacuum off (as on this project's CI machine), and SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from breeze.db.engine import create_database
from breeze.db.maintenance import autovacuum_is_on, postgres_housekeeping, sqlite_statistics
from breeze.settings import Settings
from breeze.tenancy.models import Partner
from tests.support.databases import backend, migrated_database


async def _partners_seen_by_stats(db: object) -> bool:
    async with db.read() as s:  # type: ignore[attr-defined]
        row = (
            await s.execute(
                text(
                    "SELECT n_live_tup + n_mod_since_analyze FROM pg_stat_user_tables "
                    "WHERE relname = 'partners' AND schemaname = current_schema()"
                )
            )
        ).scalar_one()
    return bool(row)


async def _exercise(url: str, tmp_path: Path) -> tuple[bool, list[str], bool]:
    db = create_database(Settings(database_url=url, data_dir=tmp_path))
    try:
        async with db.write() as uow:
            uow.session.add_all(Partner(name=f"p{i}", slug=f"p{i}") for i in range(60))
        if db.is_sqlite:
            await sqlite_statistics(db)
            async with db.read() as s:
                stats = (
                    await s.execute(
                        text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'partners'")
                    )
                ).scalar_one()
            return False, [], bool(stats)
        for _ in range(50):  # backends report their counts within a second or so
            if await _partners_seen_by_stats(db):
                break
            await asyncio.sleep(0.2)
        async with db.write_engine.connect() as conn:
            autovacuum = await autovacuum_is_on(conn)
        done = [w.table for w in await postgres_housekeeping(db)]
        async with db.read() as s:
            analyzed = (
                await s.execute(
                    text(
                        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                        "WHERE relname = 'partners' AND schemaname = current_schema()"
                    )
                )
            ).scalar_one()
        again = [w.table for w in await postgres_housekeeping(db)]
        return autovacuum, done, bool(analyzed) and "partners" not in again
    finally:
        await db.dispose()


def test_statistics_are_gathered_where_autovacuum_does_not(tmp_path: Path) -> None:
    with migrated_database(tmp_path) as url:
        autovacuum, done, analyzed = asyncio.run(_exercise(url, tmp_path))
    if backend() == "sqlite":
        assert analyzed, "ANALYZE wrote no statistics for partners"
    elif autovacuum:
        assert done == []  # autovacuum's job: Breeze stays out of its way
    else:
        assert "partners" in done
        assert analyzed, "partners was not analyzed, or was analyzed again at once"
