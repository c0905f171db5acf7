"""One way to list anything: ?page=&per_page=&sort=a,-b&q=&<filter>=v1,v2.

Each list endpoint declares a ListSpec (sortable columns, searchable columns,
filters); `list_query(spec)` turns it into a FastAPI dependency whose filters
appear in the OpenAPI document, and `paginate()` runs the statement.
"""

from __future__ import annotations

import inspect
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import InvalidInput

T = TypeVar("T")
MAX_PER_PAGE = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
    pages: int


@dataclass(frozen=True)
class Filter:
    column: Any
    kind: type = str  # str | uuid.UUID | bool | int
    description: str = ""


@dataclass(frozen=True)
class ListSpec:
    sortable: dict[str, Any]
    default_sort: str
    searchable: Sequence[Any] = ()
    filters: dict[str, Filter] = field(default_factory=dict)
    time_column: Any = None  # enables created_after / created_before


@dataclass
class ListParams:
    page: int
    per_page: int
    sort: str | None
    q: str | None
    filters: dict[str, list[Any]]
    after: datetime | None = None
    before: datetime | None = None


def _parse_values(name: str, raw: str, kind: type) -> list[Any]:
    values: list[Any] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            if kind is uuid.UUID:
                values.append(uuid.UUID(part))
            elif kind is bool:
                if part.lower() not in {"true", "false", "1", "0"}:
                    raise ValueError(part)
                values.append(part.lower() in {"true", "1"})
            elif kind is int:
                values.append(int(part))
            else:
                values.append(part)
        except ValueError:
            raise InvalidInput(
                f"'{part}' is not a valid {kind.__name__} for filter '{name}'", field=name
            ) from None
    return values


def list_query(spec: ListSpec) -> Callable[..., ListParams]:
    """Build the dependency that reads list parameters for `spec`."""

    def dependency(**kwargs: Any) -> ListParams:
        filters = {
            name: _parse_values(name, kwargs[name], f.kind)
            for name, f in spec.filters.items()
            if kwargs.get(name) not in (None, "")
        }
        return ListParams(
            page=kwargs["page"],
            per_page=kwargs["per_page"],
            sort=kwargs["sort"],
            q=kwargs["q"],
            filters=filters,
            after=kwargs.get("created_after"),
            before=kwargs.get("created_before"),
        )

    sort_help = "Comma-separated; prefix '-' for descending. One of: " + ", ".join(spec.sortable)
    params = [
        _kw("page", int, Query(1, ge=1, le=1_000_000, description="Page number, from 1")),
        _kw("per_page", int, Query(50, ge=1, le=MAX_PER_PAGE, description="Rows per page")),
        _kw("sort", str | None, Query(None, max_length=200, description=sort_help)),
        _kw("q", str | None, Query(None, max_length=200, description="Free-text search")),
    ]
    for name, f in spec.filters.items():
        desc = f.description or f"Only rows whose {name} is one of these (comma-separated)"
        params.append(_kw(name, str | None, Query(None, max_length=2000, description=desc)))
    if spec.time_column is not None:
        params.append(_kw("created_after", datetime | None, Query(None)))
        params.append(_kw("created_before", datetime | None, Query(None)))
    dependency.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return dependency


def _kw(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def escape_like(text: str) -> str:
    """``text`` for a LIKE pattern with ``escape='\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def apply_list(stmt: Select[Any], params: ListParams, spec: ListSpec) -> Select[Any]:
    """Filters, search and time range of `params` applied to `stmt` (no paging)."""
    for name, values in params.filters.items():
        stmt = stmt.where(spec.filters[name].column.in_(values))
    if params.q and spec.searchable:
        pattern = f"%{escape_like(params.q.lower())}%"
        stmt = stmt.where(
            or_(*[func.lower(col).like(pattern, escape="\\") for col in spec.searchable])
        )
    if spec.time_column is not None:
        if params.after is not None:
            stmt = stmt.where(spec.time_column >= params.after)
        if params.before is not None:
            stmt = stmt.where(spec.time_column < params.before)
    return stmt


def order_by(stmt: Select[Any], sort: str | None, spec: ListSpec, tiebreak: Any) -> Select[Any]:
    keys = [k.strip() for k in (sort or spec.default_sort).split(",") if k.strip()]
    clauses = []
    for key in keys:
        name = key.lstrip("-+")
        if name not in spec.sortable:
            allowed = ", ".join(spec.sortable)
            raise InvalidInput(f"cannot sort by '{name}'; use one of: {allowed}", field="sort")
        col = spec.sortable[name]
        clauses.append(col.desc() if key.startswith("-") else col.asc())
    return stmt.order_by(*clauses, tiebreak)


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    params: ListParams,
    spec: ListSpec,
    tiebreak: Any,
) -> tuple[list[Any], int]:
    stmt = apply_list(stmt, params, spec)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    stmt = order_by(stmt, params.sort, spec, tiebreak)
    stmt = stmt.limit(params.per_page).offset((params.page - 1) * params.per_page)
    rows = list((await session.execute(stmt)).scalars().all())
    return rows, int(total)


def page_of(items: list[T], total: int, params: ListParams) -> Page[T]:
    pages = math.ceil(total / params.per_page) if total else 0
    return Page[T](
        items=items, page=params.page, per_page=params.per_page, total=total, pages=pages
    )
