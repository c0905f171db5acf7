"""Portable SQL for devices (the dialect seam, rule 8): a JSON-array "contains" test and
byte-order comparison.

PostgreSQL stores tags as jsonb and answers ``tags @> jsonb_build_array(:tag)`` (which a
GIN index on the column could serve); SQLite stores JSON text and looks inside with
``json_each``. Both compile from one construct with one bound parameter, so statements
using it stay cacheable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class json_array_contains(FunctionElement[bool]):
    """True when the JSON array in ``column`` holds the string ``value``."""

    type = Boolean()
    inherit_cache = True
    name = "json_array_contains"

    def __init__(self, column: Any, value: str) -> None:
        super().__init__(column, literal(value, String()))


@compiles(json_array_contains)
def _generic(element: json_array_contains, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = list(element.clauses)
    # Both parts are compiled SQL (a column and a bound parameter), never request text.
    col, val = compiler.process(column, **kw), compiler.process(value, **kw)
    return f"EXISTS (SELECT 1 FROM json_each({col}) WHERE json_each.value = {val})"  # noqa: S608


@compiles(json_array_contains, "postgresql")
def _postgresql(element: json_array_contains, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = list(element.clauses)
    return (
        f"({compiler.process(column, **kw)} @> "
        f"jsonb_build_array(CAST({compiler.process(value, **kw)} AS TEXT)))"
    )


class bytewise(FunctionElement[str]):
    """Text compared byte by byte (version keys, ISO dates), whatever the locale: SQLite
    compares with BINARY already; PostgreSQL under a language locale skips punctuation, so
    there the expression gets ``COLLATE "C"``."""

    type = String()
    inherit_cache = True
    name = "bytewise"

    def __init__(self, expression: Any) -> None:
        super().__init__(expression)


@compiles(bytewise)
def _bytewise(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(bytewise, "postgresql")
def _bytewise_pg(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'
