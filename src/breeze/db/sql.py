"""Small SQL building blocks shared by domains that differ per dialect (rule 8)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Text, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def one_of(session: AsyncSession, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (values)`. On PostgreSQL it is `column = ANY(:array)`: one SQL text
    whatever the number of values, so asyncpg prepares it once, where an IN list is a new
    statement (a prepare round trip and a plan) for every length. Hot batched lookups
    (agent tokens, command claims, heartbeat flushes) use it."""
    items = list(values)
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, items, type_=ARRAY(column.type))
        return column == any_(array)  # type: ignore[no-any-return]
    return column.in_(items)  # type: ignore[no-any-return]


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
