"""Planner statistics and dead rows, when nothing else looks after them.

PostgreSQL: autovacuum normally analyzes and vacuums every table. A server run with
`autovacuum = off` (some CI and hardened set-ups) never gathers statistics, and the
planner then reads tables it believes tiny: the benchmark saw the agent-token lookup
scan every device (3 ms a beat at 5,000 devices) instead of probing its unique index.
When autovacuum is off, Breeze does the same work for its own tables with autovacuum's
default thresholds; when it is on, this does nothing.

SQLite keeps no statistics until ANALYZE runs; without them its planner prefers any
covering index over a better one. `sqlite_statistics` refreshes them with a sampling
limit, so it costs milliseconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from breeze.db.engine import Database

log = logging.getLogger("breeze.db")

# autovacuum's defaults (autovacuum_*_threshold, autovacuum_*_scale_factor).
ANALYZE_BASE, ANALYZE_SCALE = 50, 0.1
VACUUM_BASE, VACUUM_SCALE = 50, 0.2
SQLITE_ANALYSIS_LIMIT = 400  # rows sampled per index: approximate, and fast

_TABLE_STATS = text(
    "SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze, "
    "last_analyze IS NULL AND last_autoanalyze IS NULL AS never_analyzed "
    "FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY relname"
)


@dataclass(frozen=True)
class TableWork:
    table: str
    vacuum: bool

    def statement(self, quote: str) -> str:
        return f"VACUUM (ANALYZE) {quote}" if self.vacuum else f"ANALYZE {quote}"


def work_for(live: int, dead: int, modified: int, never_analyzed: bool) -> bool | None:
    """None: nothing to do; False: ANALYZE; True: VACUUM (ANALYZE)."""
    if dead > VACUUM_BASE + VACUUM_SCALE * live:
        return True
    if never_analyzed and (live or modified):
        return False
    if modified > ANALYZE_BASE + ANALYZE_SCALE * live:
        return False
    return None


async def autovacuum_is_on(conn: AsyncConnection) -> bool:
    return str((await conn.execute(text("SHOW autovacuum"))).scalar_one()).lower() == "on"


async def tables_needing_work(conn: AsyncConnection) -> list[TableWork]:
    out = []
    for name, live, dead, modified, never in await conn.execute(_TABLE_STATS):
        vacuum = work_for(int(live or 0), int(dead or 0), int(modified or 0), bool(never))
        if vacuum is not None:
            out.append(TableWork(name, vacuum))
    return out


async def postgres_housekeeping(db: Database) -> list[TableWork]:
    """ANALYZE / VACUUM the tables autovacuum would have, if it is off; what was done."""
    if db.is_sqlite:
        return []
    # VACUUM cannot run in a transaction block: a connection of its own, autocommit.
    async with db.write_engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        if await autovacuum_is_on(conn):
            return []
        todo = await tables_needing_work(conn)
        quote = conn.dialect.identifier_preparer.quote
        for work in todo:
            await conn.execute(text(work.statement(quote(work.table))))
    if todo:
        log.info(
            "autovacuum is off: analyzed %d table(s), vacuumed %d",
            len(todo),
            sum(w.vacuum for w in todo),
        )
    return todo


async def sqlite_statistics(db: Database) -> None:
    if not db.is_sqlite:
        return
    async with db.write() as uow:
        await uow.session.execute(text(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}"))
        await uow.session.execute(text("ANALYZE"))
