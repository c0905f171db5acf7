"""Small SQL building blocks shared by domains that differ per dialect (rule 8)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Table, Text, any_, bindparam, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def is_postgresql(session: AsyncSession) -> bool:
    """The dialect seam's one question: PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def one_of(session: AsyncSession, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (values)`. On PostgreSQL it is `column = ANY(:array)`: one SQL text
    whatever the number of values, so asyncpg prepares it once, where an IN list is a new
    statement (a prepare round trip and a plan) for every length. Hot batched lookups
    (agent tokens, command claims, heartbeat flushes) use it."""
    items = list(values)
    if is_postgresql(session):
        array = bindparam(None, items, type_=ARRAY(column.type))
        return column == any_(array)  # type: ignore[no-any-return]
    return column.in_(items)  # type: ignore[no-any-return]


async def insert_many(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (every row with the same columns) in the session's transaction. On
    PostgreSQL it is one COPY: a script batch for ten thousand devices is a fraction of
    the executemany's time, on the database and in Python (no per-row bind processing).
    JSON columns are written as the JSON text SQLAlchemy would have sent."""
    if not rows:
        return
    if not is_postgresql(session):
        await session.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    # Rows of a batch share their JSON values (one payload object for every device):
    # each object is encoded once. Every row is alive for the call, so an id is never
    # reused for another object meanwhile.
    encoded: dict[int, str] = {}

    def text_of(value: Any) -> str:
        key = id(value)
        if key not in encoded:
            encoded[key] = json.dumps(value)
        return encoded[key]

    records = [tuple(text_of(row[n]) if n in as_json else row[n] for n in names) for row in rows]
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the transaction at its first statement; a
        # COPY sent before that would commit on its own, outside the caller's transaction.
        await session.execute(select(literal(1)))
    await driver.copy_records_to_table(
        table.name, records=records, columns=names, schema_name=table.schema
    )


class ascii_lower(FunctionElement[str]):
    """Lower-cases ASCII letters only: SQLite's lower() does exactly that, PostgreSQL's
    would also fold other letters by locale, which Python could not reproduce.

    The translation table is written into the SQL, not bound, so the expression is the
    same text in every statement and an expression index on it (device software names)
    can serve the rule engine's lookups."""

    type = Text()
    inherit_cache = True
    name = "ascii_lower"


def _argument(element: FunctionElement[str], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(next(iter(element.clauses)), **kw))


@compiles(ascii_lower)
def _ascii_lower(element: ascii_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({_argument(element, compiler, **kw)})"


@compiles(ascii_lower, "postgresql")
def _ascii_lower_pg(element: ascii_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"translate({_argument(element, compiler, **kw)}, '{_UPPER}', '{_LOWER}')"
