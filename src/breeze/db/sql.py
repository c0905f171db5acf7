"""Small SQL building blocks shared by domains that differ per dialect (rule 8)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession


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
