"""JSON routes of the audit log: list, export (CSV / JSON, streamed) and verify."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from breeze.audit import queries
from breeze.audit.actions import record_alone
from breeze.audit.errors import UnsupportedFormat, VerifyForbidden
from breeze.audit.models import AuditLog
from breeze.audit.queries import AuditFilters
from breeze.audit.schemas import EXPORT_COLUMNS, AuditOut, VerifyOut
from breeze.audit.verify import verify_chain
from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.db.base import utcnow

router = APIRouter(prefix="/audit", tags=["audit"])
AuditList = Annotated[ListParams, Depends(list_query(queries.AUDIT_LIST))]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
# Cells a spreadsheet would run as a formula get a leading quote (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def audit_filters(
    action: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Comma-separated action names; 'org.*' matches every org action",
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        Query(alias="from", description="Only rows at or after this time (ISO 8601; UTC if naive)"),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(alias="to", description="Only rows before this time (ISO 8601; UTC if naive)"),
    ] = None,
) -> AuditFilters:
    return AuditFilters.parse(action, since, until)


Filters = Annotated[AuditFilters, Depends(audit_filters)]


@router.get("/logs", response_model=Page[AuditOut])
async def list_logs(ctx: CurrentCtx, params: AuditList, filters: Filters) -> Page[AuditOut]:
    """Audit rows of the places where the caller holds audit:read (an empty page elsewhere)."""
    async with ctx.read() as s:
        rows, total = await queries.list_logs(s, ctx.principal, params, filters)
    return page_of([AuditOut.model_validate(r) for r in rows], total, params)


@router.get(
    "/logs/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def export_logs(
    ctx: CurrentCtx,
    params: AuditList,
    filters: Filters,
    fmt: Annotated[str, Query(alias="format", description="csv or json")] = "csv",
) -> StreamingResponse:
    """Every matching row (needs audit:export), in seq order; page, per_page and sort
    are ignored."""
    if fmt not in MEDIA_TYPES:
        raise UnsupportedFormat(fmt)
    queries.require_export(ctx.principal)
    # Exporting the log is itself an audited act (in its own transaction: the export
    # streams after this request's work is done).
    await record_alone(
        ctx.state.db,
        actor=ctx.actor,
        action="audit.export",
        resource_type="audit_log",
        details={
            "format": fmt,
            "q": params.q,
            "filters": {k: [str(v) for v in vals] for k, vals in params.filters.items()},
        },
    )
    batches = queries.export_rows(ctx.read, ctx.principal, params, filters)
    body = _csv(batches) if fmt == "csv" else _json(batches)
    filename = f"breeze-audit-{utcnow().strftime('%Y%m%dT%H%M%SZ')}.{fmt}"
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/verify", response_model=VerifyOut)
async def verify(ctx: CurrentCtx) -> VerifyOut:
    """Check the whole hash chain (platform administrators only)."""
    if not ctx.principal.is_platform_admin:
        raise VerifyForbidden()
    async with ctx.read() as s:
        result = await verify_chain(s)
    return VerifyOut(
        ok=result.ok,
        rows_checked=result.rows_checked,
        first_bad_seq=result.first_bad_seq,
        first_bad_id=result.first_bad_id,
        reason=result.reason,
        message=result.message,
    )


def _plain(row: AuditLog) -> dict[str, Any]:
    return AuditOut.model_validate(row).model_dump(mode="json")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


async def _csv(batches: AsyncIterator[list[AuditLog]]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    async for rows in batches:
        for row in rows:
            plain = _plain(row)
            writer.writerow([_cell(plain[c]) for c in EXPORT_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


async def _json(batches: AsyncIterator[list[AuditLog]]) -> AsyncIterator[str]:
    yield "["
    first = True
    async for rows in batches:
        parts = [json.dumps(_plain(r), ensure_ascii=False) for r in rows]
        yield ("" if first else ",") + ",\n".join(parts)
        first = False
    yield "]\n"
