"""CSV export of the device list for the current filter.

The export is counted and audited first (``device.export``), then streamed in chunks,
each read in a short transaction of its own (no transaction stays open while the client
downloads, rule 4). Cells that a spreadsheet would take for a formula are prefixed with
a quote (CSV injection).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.errors import InvalidInput
from breeze.core.pagination import ListParams, apply_list, order_by
from breeze.core.principal import Principal, restrict
from breeze.customfields.models import CustomField
from breeze.db.engine import Database
from breeze.devices.filters import filters_of
from breeze.devices.models import Device
from breeze.devices.queries import DEVICE_LIST, filtered_devices
from breeze.tenancy.models import Site

MAX_EXPORT_ROWS = 100_000
CHUNK = 2_000
COLUMNS = (
    "id",
    "hostname",
    "display_name",
    "status",
    "os_type",
    "os_version",
    "site",
    "agent_version",
    "last_seen_at",
    "tags",
    "primary_ip",
    "serial",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell text; one a spreadsheet would evaluate gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = ";".join(str(v) for v in value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass
class ExportPlan:
    params: ListParams
    rows: int
    fields: list[CustomField]

    @property
    def header(self) -> list[str]:
        return [*COLUMNS, *(f"cf:{f.key}" for f in self.fields)]


async def _statement(session: AsyncSession, principal: Principal, params: ListParams) -> Any:
    stmt, rest = await filtered_devices(session, principal, params)
    return apply_list(stmt, rest, DEVICE_LIST), rest


async def plan_export(
    session: AsyncSession, principal: Principal, params: ListParams
) -> ExportPlan:
    stmt, _ = await _statement(session, principal, params)
    count = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    if count > MAX_EXPORT_ROWS:
        raise InvalidInput(
            f"The filter selects {count} devices; an export holds at most {MAX_EXPORT_ROWS}: "
            "narrow the filter"
        )
    fields: list[CustomField] = []
    orgs = params.filters.get("org_id") or []
    if len(orgs) == 1:
        # Only definitions the principal may read: a column name is data too.
        fields = list(
            (
                await session.execute(
                    restrict(select(CustomField), principal, "devices:read", CustomField)
                    .where(CustomField.org_id == orgs[0])
                    .order_by(CustomField.key)
                )
            ).scalars()
        )
    order_by(stmt, params.sort, DEVICE_LIST, Device.id)  # a bad sort answers 422 now
    return ExportPlan(params, int(count), fields)


async def audit_export(
    session: AsyncSession, principal: Principal, plan: ExportPlan, scope: list[Any]
) -> None:
    partners = {p for p, _ in scope}
    orgs = {o for _, o in scope}
    partner_id = next(iter(partners)) if len(partners) == 1 else None
    org_id = next(iter(orgs)) if len(orgs) == 1 and partner_id else None
    await record(
        session,
        actor=principal.actor,
        action="device.export",
        resource_type="device",
        resource_name=f"{plan.rows} device(s)",
        partner_id=partner_id,
        org_id=org_id,
        details={
            "format": "csv",
            "rows": plan.rows,
            "filters": filters_of(plan.params),
            "sort": plan.params.sort,
            "custom_fields": [f.key for f in plan.fields],
        },
    )


async def export_scope(
    session: AsyncSession, principal: Principal, params: ListParams
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The (partner, organization) pairs the export reaches, for the audit row's place."""
    stmt, _ = await _statement(session, principal, params)
    sub = stmt.subquery()
    pairs = select(sub.c.partner_id, sub.c.org_id).distinct().limit(2)
    return [(p, o) for p, o in (await session.execute(pairs)).all()]


def _row(device: Device, site: str | None, fields: list[CustomField]) -> list[str]:
    own = device.custom_fields or {}
    values: list[Any] = [
        device.id,
        device.hostname,
        device.display_name,
        device.status,
        device.os_type,
        device.os_version,
        site,
        device.agent_version,
        device.last_seen_at.isoformat() if device.last_seen_at else None,
        device.tags,
        device.primary_ip,
        device.serial_number,
    ]
    for f in fields:
        # A device without a value of its own exports its organization's default.
        value = own.get(f.key)
        values.append(f.default_value if value is None and f.org_id == device.org_id else value)
    return [safe_cell(v) for v in values]


async def stream_csv(db: Database, principal: Principal, plan: ExportPlan) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(plan.header)
    yield buffer.getvalue()
    sent = 0
    while sent < min(plan.rows, MAX_EXPORT_ROWS):
        async with db.read() as session:
            stmt, _ = await _statement(session, principal, plan.params)
            stmt = order_by(stmt, plan.params.sort, DEVICE_LIST, Device.id)
            sub = stmt.limit(min(CHUNK, MAX_EXPORT_ROWS - sent)).offset(sent).subquery()
            page = (
                select(Device, Site.name)
                .join(sub, sub.c.id == Device.id)
                .outerjoin(Site, Site.id == Device.site_id)
            )
            chunk = (await session.execute(_ordered(page, sub, plan.params))).all()
        if not chunk:
            break
        buffer.seek(0)
        buffer.truncate()
        for device, site in chunk:
            writer.writerow(_row(device, site, plan.fields))
        yield buffer.getvalue()
        sent += len(chunk)


def _ordered(page: Any, sub: Any, params: ListParams) -> Any:
    """The chunk in the list's order (the subquery's order does not survive the join)."""
    keys = [k.strip() for k in (params.sort or DEVICE_LIST.default_sort).split(",") if k.strip()]
    clauses = []
    for key in keys:
        col = DEVICE_LIST.sortable[key.lstrip("-+")]
        clauses.append(col.desc() if key.startswith("-") else col.asc())
    return page.order_by(*clauses, Device.id)
