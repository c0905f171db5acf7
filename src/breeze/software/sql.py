"""Byte-order comparison of version keys on every dialect (the dialect seam, rule 8).

Version keys (breeze.devices.versions) sort correctly as raw bytes. SQLite compares with
BINARY already; PostgreSQL uses the database collation, which under a language locale
(en_US.UTF-8) skips punctuation, so there the key is ordered with ``COLLATE "C"``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class bytewise(FunctionElement[str]):
    """``expression`` compared byte by byte."""

    type = String()
    inherit_cache = True
    name = "bytewise"

    def __init__(self, expression: Any) -> None:
        super().__init__(expression)


@compiles(bytewise)
def _generic(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(bytewise, "postgresql")
def _postgresql(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'
