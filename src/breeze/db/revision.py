"""Refuse to serve on a schema older than the code (scale-out runs `breeze migrate`)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from breeze.db.engine import Database
from breeze.db.migrate import alembic_config


class SchemaOutOfDate(RuntimeError):
    pass


def _current_heads(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def ensure_at_head(db: Database) -> None:
    script = ScriptDirectory.from_config(alembic_config(db.url))
    expected = set(script.get_heads())
    async with db.read_engine.connect() as conn:
        current = await conn.run_sync(_current_heads)
    if current != expected:
        raise SchemaOutOfDate(
            f"database schema is at {sorted(current) or 'nothing'}, code expects "
            f"{sorted(expected)}; run `breeze migrate`"
        )
