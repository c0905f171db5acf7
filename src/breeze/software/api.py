"""Fleet software routes (thin): titles, versions of a title, the devices having it, and
the CSV export."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from breeze.audit.actions import record_alone
from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.software import queries
from breeze.software.errors import UnsupportedFormat
from breeze.software.export import csv_stream
from breeze.software.schemas import SoftwareDeviceOut, SoftwareTitleOut, SoftwareVersionOut

router = APIRouter(prefix="/software", tags=["software"])
TitleList = Annotated[ListParams, Depends(list_query(queries.TITLE_LIST))]
VersionList = Annotated[ListParams, Depends(list_query(queries.VERSION_LIST))]
InstallList = Annotated[ListParams, Depends(list_query(queries.INSTALL_LIST))]
ExportList = Annotated[ListParams, Depends(list_query(queries.EXPORT_LIST))]
Name = Annotated[str, Query(min_length=1, max_length=255, description="The software name, exactly")]
OptionalName = Annotated[
    str | None,
    Query(min_length=1, max_length=255, description="Only this software name (exact)"),
]
Version = Annotated[str | None, Query(max_length=255, description="Only this version (exact)")]


@router.get("", response_model=Page[SoftwareTitleOut])
async def list_titles(ctx: CurrentCtx, params: TitleList) -> Page[SoftwareTitleOut]:
    """Distinct software names installed on the live devices in reach, with how many
    versions and devices each has; `q` searches name and publisher."""
    async with ctx.read() as s:
        items, total = await queries.list_titles(s, ctx.principal, params)
    return page_of([SoftwareTitleOut.model_validate(i) for i in items], total, params)


@router.get("/versions", response_model=Page[SoftwareVersionOut])
async def list_versions(
    ctx: CurrentCtx, name: Name, params: VersionList
) -> Page[SoftwareVersionOut]:
    """The versions of one software name and the number of devices having each; sorted by
    version (numerically: 1.10 after 1.9), newest first unless told."""
    async with ctx.read() as s:
        items, total = await queries.list_versions(s, ctx.principal, name, params)
    return page_of([SoftwareVersionOut.model_validate(i) for i in items], total, params)


@router.get("/devices", response_model=Page[SoftwareDeviceOut])
async def list_devices(
    ctx: CurrentCtx, name: Name, params: InstallList, version: Version = None
) -> Page[SoftwareDeviceOut]:
    """The devices having one software name (in one version when given); a device with
    two versions of it is listed once per version. `q` searches host and display name."""
    async with ctx.read() as s:
        rows, total = await queries.list_installs(s, ctx.principal, name, version, params)
    items = [SoftwareDeviceOut.model_validate(r, from_attributes=True) for r in rows]
    return page_of(items, total, params)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export(
    ctx: CurrentCtx,
    params: ExportList,
    fmt: Annotated[str, Query(alias="format", description="csv")] = "csv",
    name: OptionalName = None,
    version: Version = None,
) -> StreamingResponse:
    """Which devices have which version of which package, as CSV (device_id, hostname,
    org_id, site_id, name, version, publisher, source, install_date), device by device.
    Takes the filters of the title list; page, per_page and sort are ignored. Refused
    (422) above a million rows: narrow it by name, org or site."""
    if fmt != "csv":
        raise UnsupportedFormat(fmt)
    async with ctx.read() as s:
        count = await queries.count_export(s, ctx.principal, params, name, version)
    org_ids = params.filters.get("org_id", [])
    # Exporting is audited (in its own transaction: the rows stream after this returns).
    await record_alone(
        ctx.state.db,
        actor=ctx.actor,
        action="software.export",
        resource_type="software",
        resource_name=name,
        partner_id=_partner_of(ctx.principal),
        org_id=org_ids[0] if len(org_ids) == 1 else None,
        details={
            "format": fmt,
            "name": name,
            "version": version,
            "q": params.q,
            "filters": {k: [str(v) for v in vals] for k, vals in params.filters.items()},
            "rows": count,
        },
    )
    batches = queries.export_rows(ctx.read, ctx.principal, params, name, version)
    filename = f"breeze-software-{utcnow().strftime('%Y%m%dT%H%M%SZ')}.csv"
    return StreamingResponse(
        csv_stream(batches),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _partner_of(principal: Principal) -> uuid.UUID | None:
    """The partner the audit row belongs to, when the caller works within one."""
    partners = {g.partner_id for g in principal.partner_grants} | {
        g.partner_id for g in principal.org_grants
    }
    return partners.pop() if len(partners) == 1 else None
