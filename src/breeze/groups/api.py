"""Device group routes (thin: parse, act or query, answer)."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import select

from breeze.auth.deps import CurrentCtx
from breeze.core.context import Ctx
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.core.principal import restrict
from breeze.groups import actions, queries
from breeze.groups.predefined import ensure_predefined, orgs_missing_predefined
from breeze.groups.schemas import (
    GroupCreate,
    GroupOut,
    GroupUpdate,
    MemberOut,
    MembersChange,
    MembersResult,
    PreviewDevice,
    PreviewOut,
    PreviewRequest,
)
from breeze.tenancy.models import Organization

log = logging.getLogger("breeze.groups")
router = APIRouter(prefix="/device-groups", tags=["device groups"])
GroupList = Annotated[ListParams, Depends(list_query(queries.GROUP_LIST))]
MemberList = Annotated[ListParams, Depends(list_query(queries.MEMBER_LIST))]
LAZY_ORGS = 20


async def _lazy_predefined(ctx: Ctx, params: ListParams) -> None:
    """Organizations in view that lack their predefined groups get them now (the sweep
    does it too, a few minutes later)."""
    async with ctx.read() as s:
        visible = restrict(
            select(Organization.id),
            ctx.principal,
            "devices:read",
            Organization,
        )
        if params.filters.get("org_id"):
            visible = visible.where(Organization.id.in_(params.filters["org_id"]))
        ids = list((await s.execute(visible.limit(LAZY_ORGS * 10))).scalars())
        orgs = await orgs_missing_predefined(s, ids, limit=LAZY_ORGS) if ids else []
    for org in orgs:
        try:
            async with ctx.write() as uow:
                await ensure_predefined(uow.session, org)
        except Exception:
            log.exception("could not create the predefined groups of %s", org.id)


@router.get("", response_model=Page[GroupOut])
async def list_groups(ctx: CurrentCtx, params: GroupList) -> Page[GroupOut]:
    """Groups in reach, with their member counts; `q` searches name and description."""
    await _lazy_predefined(ctx, params)
    async with ctx.read() as s:
        rows, total = await queries.list_groups(s, ctx.principal, params)
        items = await queries.views(s, rows)
    return page_of(items, total, params)


@router.post("", response_model=GroupOut, status_code=status.HTTP_201_CREATED)
async def create_group(ctx: CurrentCtx, body: GroupCreate) -> GroupOut:
    """Create a static group (members added by hand) or a dynamic one (members follow
    its rules, evaluated at once)."""
    async with ctx.write() as uow:
        group = await actions.do_create_group(uow.session, actor=ctx.principal, data=body)
        (out,) = await queries.views(uow.session, [group])
    return out


@router.post("/preview", response_model=PreviewOut)
async def preview_rules(ctx: CurrentCtx, body: PreviewRequest) -> PreviewOut:
    """The devices these rules would hold (first page and total), without saving."""
    async with ctx.read() as s:
        rows, total, rules = await actions.preview(s, actor=ctx.principal, req=body)
    return PreviewOut(
        items=[PreviewDevice.model_validate(r) for r in rows], total=total, rules=rules
    )


@router.get("/{group_id}", response_model=GroupOut)
async def get_group(ctx: CurrentCtx, group_id: uuid.UUID) -> GroupOut:
    async with ctx.read() as s:
        (out,) = await queries.views(s, [await queries.get_group(s, ctx.principal, group_id)])
    return out


@router.patch("/{group_id}", response_model=GroupOut)
async def update_group(ctx: CurrentCtx, group_id: uuid.UUID, body: GroupUpdate) -> GroupOut:
    """Rename, describe, move under another parent (null: top level) or change the rules
    of a dynamic group; memberships are re-evaluated at once."""
    async with ctx.write() as uow:
        group = await actions.do_update_group(
            uow.session, actor=ctx.principal, group_id=group_id, data=body
        )
        (out,) = await queries.views(uow.session, [group])
    return out


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(ctx: CurrentCtx, group_id: uuid.UUID) -> None:
    """Delete a group; 409 while it has child groups, other rules name it, or it is
    predefined."""
    async with ctx.write() as uow:
        await actions.do_delete_group(uow.session, actor=ctx.principal, group_id=group_id)


@router.get("/{group_id}/members", response_model=Page[MemberOut])
async def list_members(ctx: CurrentCtx, group_id: uuid.UUID, params: MemberList) -> Page[MemberOut]:
    """The group's devices, with who added each (manual, dynamic_rule, policy) and when."""
    async with ctx.read() as s:
        items, total = await queries.list_members(s, ctx.principal, group_id, params)
    return page_of(items, total, params)


@router.post("/{group_id}/members", response_model=MembersResult)
async def add_members(ctx: CurrentCtx, group_id: uuid.UUID, body: MembersChange) -> MembersResult:
    """Add devices to a static group (409 for a dynamic one); devices that cannot join
    are listed in `skipped` with the reason."""
    async with ctx.write() as uow:
        return await actions.do_add_members(
            uow.session, actor=ctx.principal, group_id=group_id, device_ids=body.device_ids
        )


@router.delete("/{group_id}/members", response_model=MembersResult)
async def remove_members(
    ctx: CurrentCtx, group_id: uuid.UUID, body: MembersChange
) -> MembersResult:
    """Remove devices from a static group (409 for a dynamic one); its child groups lose
    them too."""
    async with ctx.write() as uow:
        return await actions.do_remove_members(
            uow.session, actor=ctx.principal, group_id=group_id, device_ids=body.device_ids
        )
