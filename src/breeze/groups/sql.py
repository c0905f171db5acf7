"""Portable SQL pieces for the rule engine (the dialect seam, rule 8).

Each construct compiles to SQLite JSON1 / PostgreSQL jsonb SQL with bound parameters only.
JSON values are read *guarded by their JSON type*: a custom field holding text where a
rule expects a number reads as NULL (no match) instead of failing the statement, and the
Python evaluator (breeze.groups.rules.rule_matches) applies the same guards.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, String, Text, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


def _parts(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


def _sqlite_path(key_sql: str) -> str:
    # '$."key"' built in SQL from the bound key (keys are [a-z0-9_], checked by the rules).
    return f"('$.\"' || {key_sql} || '\"')"


class _KeyOf(FunctionElement[Any]):
    inherit_cache = True

    def __init__(self, column: Any, key: str) -> None:
        super().__init__(column, literal(key, String()))


class json_text(_KeyOf):
    """The string at ``column[key]``; NULL when missing or not a JSON string."""

    type = Text()
    inherit_cache = True
    name = "json_text"


@compiles(json_text)
def _json_text(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    col, key = _parts(element, compiler, **kw)
    path = _sqlite_path(key)
    return f"(CASE WHEN json_type({col}, {path}) = 'text' THEN json_extract({col}, {path}) END)"


@compiles(json_text, "postgresql")
def _json_text_pg(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    col, key = _parts(element, compiler, **kw)
    return (
        f"(CASE WHEN jsonb_typeof({col} -> CAST({key} AS TEXT)) = 'string' "
        f"THEN {col} ->> CAST({key} AS TEXT) END)"
    )


class json_number(_KeyOf):
    """The number at ``column[key]`` as a float; NULL when missing or not a JSON number."""

    type = Float()
    inherit_cache = True
    name = "json_number"


@compiles(json_number)
def _json_number(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    col, key = _parts(element, compiler, **kw)
    path = _sqlite_path(key)
    return (
        f"(CASE WHEN json_type({col}, {path}) IN ('integer', 'real') "
        f"THEN json_extract({col}, {path}) END)"
    )


@compiles(json_number, "postgresql")
def _json_number_pg(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    col, key = _parts(element, compiler, **kw)
    return (
        f"(CASE WHEN jsonb_typeof({col} -> CAST({key} AS TEXT)) = 'number' "
        f"THEN CAST({col} ->> CAST({key} AS TEXT) AS DOUBLE PRECISION) END)"
    )


class json_type_is(FunctionElement[bool]):
    """True when ``column[key]`` (or the whole column when key is None) is of this JSON
    kind: string, number, boolean, true, false, array or nonempty_array."""

    type = Boolean()
    # The kind and the key's presence shape the SQL text, and they are attributes rather
    # than clauses: statements holding this construct are not cached.
    inherit_cache = False
    name = "json_type_is"

    def __init__(self, column: Any, key: str | None, kind: str) -> None:
        if key is None:
            super().__init__(column)
        else:
            super().__init__(column, literal(key, String()))
        self.has_key = key is not None
        self.kind = kind


_SQLITE_KINDS = {
    "string": "= 'text'",
    "number": "IN ('integer', 'real')",
    "boolean": "IN ('true', 'false')",
    "true": "= 'true'",
    "false": "= 'false'",
    "array": "= 'array'",
}
_PG_KINDS = {
    "string": "= 'string'",
    "number": "= 'number'",
    "boolean": "= 'boolean'",
    "array": "= 'array'",
}


@compiles(json_type_is)
def _json_type_is(element: json_type_is, compiler: SQLCompiler, **kw: Any) -> str:
    parts = _parts(element, compiler, **kw)
    col = parts[0]
    path = _sqlite_path(parts[1]) if element.has_key else "'$'"
    if element.kind == "nonempty_array":
        return f"(json_type({col}, {path}) = 'array' AND json_array_length({col}, {path}) > 0)"
    return f"(json_type({col}, {path}) {_SQLITE_KINDS[element.kind]})"


@compiles(json_type_is, "postgresql")
def _json_type_is_pg(element: json_type_is, compiler: SQLCompiler, **kw: Any) -> str:
    parts = _parts(element, compiler, **kw)
    value = f"({parts[0]} -> CAST({parts[1]} AS TEXT))" if element.has_key else parts[0]
    kind = element.kind
    if kind in ("true", "false"):
        return f"({value} = CAST('{kind}' AS JSONB))"
    if kind == "nonempty_array":
        return f"(jsonb_typeof({value}) = 'array' AND {value} <> CAST('[]' AS JSONB))"
    return f"(jsonb_typeof({value}) {_PG_KINDS[kind]})"


class json_key_array_contains(FunctionElement[bool]):
    """True when ``column[key]`` is a JSON array holding the string ``value``."""

    type = Boolean()
    inherit_cache = True
    name = "json_key_array_contains"

    def __init__(self, column: Any, key: str, value: str) -> None:
        super().__init__(column, literal(key, String()), literal(value, String()))


@compiles(json_key_array_contains)
def _json_key_array_contains(
    element: json_key_array_contains, compiler: SQLCompiler, **kw: Any
) -> str:
    col, key, value = _parts(element, compiler, **kw)
    path = _sqlite_path(key)
    return (
        f"(json_type({col}, {path}) = 'array' AND EXISTS (SELECT 1 FROM "  # noqa: S608
        f"json_each({col}, {path}) AS je WHERE je.type = 'text' AND je.value = {value}))"
    )


@compiles(json_key_array_contains, "postgresql")
def _json_key_array_contains_pg(
    element: json_key_array_contains, compiler: SQLCompiler, **kw: Any
) -> str:
    col, key, value = _parts(element, compiler, **kw)
    inner = f"({col} -> CAST({key} AS TEXT))"
    return (
        f"(jsonb_typeof({inner}) = 'array' AND {inner} @> jsonb_build_array(CAST({value} AS TEXT)))"
    )
