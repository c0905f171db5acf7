"""Saved views: a user's own named filters of the device list (thin routes)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.savedviews import actions, queries
from breeze.savedviews.schemas import SavedViewCreate, SavedViewOut, SavedViewUpdate

router = APIRouter(prefix="/saved-views", tags=["saved views"])
ViewList = Annotated[ListParams, Depends(list_query(queries.VIEW_LIST))]


@router.get("", response_model=Page[SavedViewOut])
async def list_views(ctx: CurrentCtx, params: ViewList) -> Page[SavedViewOut]:
    """The caller's own views (nobody sees another user's)."""
    async with ctx.read() as s:
        rows, total = await queries.list_views(s, ctx.principal, params)
    return page_of([SavedViewOut.model_validate(r) for r in rows], total, params)


@router.post("", response_model=SavedViewOut, status_code=status.HTTP_201_CREATED)
async def create_view(ctx: CurrentCtx, body: SavedViewCreate) -> SavedViewOut:
    """Save a filter set of the device list under a name unique for the caller."""
    async with ctx.write() as uow:
        view = await actions.do_create_view(uow.session, actor=ctx.principal, data=body)
    return SavedViewOut.model_validate(view)


@router.get("/{view_id}", response_model=SavedViewOut)
async def get_view(ctx: CurrentCtx, view_id: uuid.UUID) -> SavedViewOut:
    async with ctx.read() as s:
        return SavedViewOut.model_validate(await queries.get_view(s, ctx.principal, view_id))


@router.patch("/{view_id}", response_model=SavedViewOut)
async def update_view(ctx: CurrentCtx, view_id: uuid.UUID, body: SavedViewUpdate) -> SavedViewOut:
    async with ctx.write() as uow:
        view = await actions.do_update_view(
            uow.session, actor=ctx.principal, view_id=view_id, data=body
        )
    return SavedViewOut.model_validate(view)


@router.delete("/{view_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_view(ctx: CurrentCtx, view_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_delete_view(uow.session, actor=ctx.principal, view_id=view_id)
