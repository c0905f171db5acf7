"""Reads of the fleet software inventory; every one starts from restrict() on devices.

Each query is one set-based statement over ``device_software`` restricted to the devices
the principal may read (live devices only): titles and versions are GROUP BYs over a
semi-join, and a page carries its total as ``count(*) OVER ()`` so the grouping runs once
per page. Drill-downs (one name) use the name index and join the devices.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Row, Select, distinct, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.pagination import Filter, ListParams, ListSpec, apply_list, order_by
from breeze.core.principal import Principal, restrict
from breeze.devices.models import Device, DeviceSoftware
from breeze.devices.sql import bytewise
from breeze.software.errors import ExportTooLarge

OpenSession = Callable[[], AbstractAsyncContextManager[AsyncSession]]
PERMISSION = "devices:read"
EXPORT_BATCH = 2000
# An export larger than this is refused (narrow it by name, org or site) rather than cut.
EXPORT_MAX_ROWS = 1_000_000

DEVICE_COUNT = func.count(distinct(DeviceSoftware.device_id)).label("device_count")
VERSION_COUNT = func.count(distinct(func.coalesce(DeviceSoftware.version, ""))).label(
    "version_count"
)
# Sort key of a version group: its version_key (filled on ingest) or the string itself.
VERSION_ORDER = bytewise(
    func.coalesce(func.max(DeviceSoftware.version_key), func.max(DeviceSoftware.version))
).label("version_order")
TOTAL = func.count().over().label("total")

FILTERS = {
    "org_id": Filter(Device.org_id, uuid.UUID),
    "site_id": Filter(Device.site_id, uuid.UUID),
    "source": Filter(DeviceSoftware.source, description="Package sources (dpkg, rpm, ...)"),
    "is_system": Filter(DeviceSoftware.is_system, bool),
}

TITLE_LIST = ListSpec(
    sortable={
        "name": DeviceSoftware.name,
        "device_count": DEVICE_COUNT,
        "version_count": VERSION_COUNT,
    },
    default_sort="name",
    searchable=(DeviceSoftware.name, DeviceSoftware.publisher),
    filters=FILTERS,
)

VERSION_LIST = ListSpec(
    sortable={"version": VERSION_ORDER, "device_count": DEVICE_COUNT},
    default_sort="-version",
    filters=FILTERS,
)

INSTALL_LIST = ListSpec(
    sortable={
        "hostname": Device.hostname,
        "version": bytewise(func.coalesce(DeviceSoftware.version_key, DeviceSoftware.version)),
        "install_date": DeviceSoftware.install_date,
    },
    default_sort="hostname",
    searchable=(Device.hostname, Device.display_name),
    filters=FILTERS,
)

# Export: the filters of the title list, with `q` searching name and publisher.
EXPORT_LIST = ListSpec(
    sortable={"name": DeviceSoftware.name},
    default_sort="name",
    searchable=(DeviceSoftware.name, DeviceSoftware.publisher),
    filters=FILTERS,
)

INSTALL_COLUMNS = (
    Device.id.label("device_id"),
    Device.hostname,
    Device.display_name,
    Device.org_id,
    Device.site_id,
    DeviceSoftware.name,
    DeviceSoftware.version,
    DeviceSoftware.publisher,
    DeviceSoftware.source,
    DeviceSoftware.install_date,
)


DEVICE_FILTERS = ("org_id", "site_id")


def _visible_ids(principal: Principal, params: ListParams) -> Any:
    """The ids of the live devices in reach, narrowed by the org_id / site_id filters."""
    stmt = restrict(select(Device.id), principal, PERMISSION, Device).where(
        Device.decommissioned_at.is_(None)
    )
    for name in DEVICE_FILTERS:
        if params.filters.get(name):
            stmt = stmt.where(FILTERS[name].column.in_(params.filters[name]))
    return stmt


def _software_only(params: ListParams) -> ListParams:
    """`params` without the device filters (applied inside _visible_ids)."""
    rest = {k: v for k, v in params.filters.items() if k not in DEVICE_FILTERS}
    return dataclasses.replace(params, filters=rest)


def aggregated(
    principal: Principal, params: ListParams, spec: ListSpec, *columns: Any
) -> Select[Any]:
    """`columns` over the software rows of the visible devices, filtered by `params`.

    A semi-join (device_id IN visible ids) rather than a join: the planner may then read
    device_software in (name, ...) index order and aggregate it as it streams.
    """
    stmt = select(*columns).where(DeviceSoftware.device_id.in_(_visible_ids(principal, params)))
    return apply_list(stmt, _software_only(params), spec)


def installed(principal: Principal, *columns: Any) -> Select[Any]:
    """`columns` over the software rows of the live devices the principal may read."""
    stmt = (
        select(*columns)
        .select_from(DeviceSoftware)
        .join(Device, Device.id == DeviceSoftware.device_id)
        .where(Device.decommissioned_at.is_(None))
    )
    return restrict(stmt, principal, PERMISSION, Device)


async def _grouped_page(
    session: AsyncSession, grouped: Select[Any], params: ListParams, spec: ListSpec, tiebreak: str
) -> tuple[list[Row[Any]], int]:
    """One page of a GROUP BY statement, sorted by its result columns.

    The grouping is a subquery that the page is cut from: planned on its own, for every
    row, PostgreSQL aggregates it in one pass instead of walking an index in the page's
    order (which a LIMIT makes look cheap, wrongly, since the total needs every group).
    """
    sub = grouped.subquery()
    columns = ListSpec(
        sortable={name: sub.c[col.name] for name, col in spec.sortable.items()},
        default_sort=spec.default_sort,
    )
    stmt = select(*sub.c, TOTAL)
    return await _page(session, stmt, params, columns, sub.c[tiebreak])


async def _page(
    session: AsyncSession, stmt: Select[Any], params: ListParams, spec: ListSpec, tiebreak: Any
) -> tuple[list[Row[Any]], int]:
    """One page of `stmt` (which selects TOTAL) and the number of rows of all pages."""
    stmt = order_by(stmt, params.sort, spec, tiebreak)
    stmt = stmt.limit(params.per_page).offset((params.page - 1) * params.per_page)
    rows = list((await session.execute(stmt)).all())
    if rows:
        return rows, int(rows[0].total)
    if params.page == 1:
        return rows, 0
    # Past the last page: no row carries the total, so count it on its own.
    counted = stmt.limit(None).offset(None).order_by(None)
    total = (await session.execute(select(func.count()).select_from(counted.subquery()))).scalar()
    return rows, int(total or 0)


async def list_titles(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[dict[str, Any]], int]:
    """Distinct software names with their version and device counts, publishers, sources."""
    stmt = aggregated(
        principal, params, TITLE_LIST, DeviceSoftware.name, VERSION_COUNT, DEVICE_COUNT
    )
    stmt = stmt.group_by(DeviceSoftware.name)
    rows, total = await _grouped_page(session, stmt, params, TITLE_LIST, "name")
    names = [r.name for r in rows]
    publishers: dict[str, set[str]] = {n: set() for n in names}
    sources: dict[str, set[str]] = {n: set() for n in names}
    if names:
        # Only the page's names: a second, small query rather than a dialect-specific
        # string aggregate in the grouping.
        detail = aggregated(
            principal,
            dataclasses.replace(params, q=None),
            TITLE_LIST,
            DeviceSoftware.name,
            DeviceSoftware.publisher,
            DeviceSoftware.source,
        )
        detail = detail.where(DeviceSoftware.name.in_(names)).distinct()
        for name, publisher, source in (await session.execute(detail)).all():
            if publisher:
                publishers[name].add(publisher)
            if source:
                sources[name].add(source)
    items = [
        {
            "name": r.name,
            "publishers": sorted(publishers[r.name]),
            "sources": sorted(sources[r.name]),
            "version_count": int(r.version_count),
            "device_count": int(r.device_count),
        }
        for r in rows
    ]
    return items, total


async def list_versions(
    session: AsyncSession, principal: Principal, name: str, params: ListParams
) -> tuple[list[dict[str, Any]], int]:
    """The versions of one software name (exact) with the number of devices having each."""
    stmt = aggregated(
        principal, params, VERSION_LIST, DeviceSoftware.version, DEVICE_COUNT, VERSION_ORDER
    )
    stmt = stmt.where(DeviceSoftware.name == name).group_by(DeviceSoftware.version)
    rows, total = await _grouped_page(session, stmt, params, VERSION_LIST, "version")
    items = [{"version": r.version or "", "device_count": int(r.device_count)} for r in rows]
    return items, total


def _installs(principal: Principal, name: str | None, version: str | None) -> Select[Any]:
    stmt = installed(principal, *INSTALL_COLUMNS)
    if name is not None:
        stmt = stmt.where(DeviceSoftware.name == name)
    if version is not None:
        stmt = stmt.where(DeviceSoftware.version == version)
    return stmt


async def list_installs(
    session: AsyncSession,
    principal: Principal,
    name: str,
    version: str | None,
    params: ListParams,
) -> tuple[list[Row[Any]], int]:
    """The devices having `name` (in `version` when given): one row per installed copy."""
    stmt = apply_list(_installs(principal, name, version).add_columns(TOTAL), params, INSTALL_LIST)
    return await _page(session, stmt, params, INSTALL_LIST, DeviceSoftware.id)


async def count_export(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    name: str | None,
    version: str | None,
) -> int:
    base = apply_list(_installs(principal, name, version), params, EXPORT_LIST)
    stmt = select(func.count()).select_from(base.with_only_columns(DeviceSoftware.id).subquery())
    count = int((await session.execute(stmt)).scalar_one())
    if count > EXPORT_MAX_ROWS:
        raise ExportTooLarge(count, EXPORT_MAX_ROWS)
    return count


async def export_rows(
    open_session: OpenSession,
    principal: Principal,
    params: ListParams,
    name: str | None,
    version: str | None,
    *,
    batch_size: int = EXPORT_BATCH,
) -> AsyncIterator[list[Row[Any]]]:
    """Every matching installed copy, device by device, batch by batch.

    Each batch is read in a short session of its own, continuing after the last row
    (keyset on device, name, id: the (device_id, name) index serves it), so no
    transaction stays open while the client downloads (rule 4).
    """
    base = apply_list(_installs(principal, name, version), params, EXPORT_LIST).add_columns(
        DeviceSoftware.id.label("row_id")
    )
    key = tuple_(DeviceSoftware.device_id, DeviceSoftware.name, DeviceSoftware.id)
    after: tuple[Any, ...] | None = None
    while True:
        stmt = base if after is None else base.where(key > tuple_(*after))
        stmt = stmt.order_by(
            DeviceSoftware.device_id, DeviceSoftware.name, DeviceSoftware.id
        ).limit(batch_size)
        async with open_session() as session:
            rows = list((await session.execute(stmt)).all())
        if not rows:
            return
        yield rows
        if len(rows) < batch_size:
            return
        last = rows[-1]
        after = (last.device_id, last.name, last.row_id)
