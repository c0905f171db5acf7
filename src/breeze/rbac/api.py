"""JSON routes of the permission catalog and roles (thin: parse, act, answer)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.rbac import actions, queries
from breeze.rbac.schemas import PermissionOut, RoleCreate, RoleOut, RoleUpdate

router = APIRouter(tags=["roles"])
RoleList = Annotated[ListParams, Depends(list_query(queries.ROLE_LIST))]


@router.get("/permissions", response_model=list[PermissionOut])
async def list_permissions(ctx: CurrentCtx) -> list[PermissionOut]:
    async with ctx.read() as s:
        return await queries.catalog(s)


@router.get("/roles", response_model=Page[RoleOut])
async def list_roles(ctx: CurrentCtx, params: RoleList) -> Page[RoleOut]:
    async with ctx.read() as s:
        rows, total = await queries.list_roles(s, ctx.principal, params)
        items = await queries.role_views(s, rows)
    return page_of(items, total, params)


@router.post("/roles", response_model=RoleOut, status_code=status.HTTP_201_CREATED)
async def create_role(ctx: CurrentCtx, body: RoleCreate) -> RoleOut:
    async with ctx.write() as uow:
        role = await actions.do_create_role(uow.session, actor=ctx.principal, data=body)
        (out,) = await queries.role_views(uow.session, [role])
    return out


@router.get("/roles/{role_id}", response_model=RoleOut)
async def get_role(ctx: CurrentCtx, role_id: uuid.UUID) -> RoleOut:
    async with ctx.read() as s:
        (out,) = await queries.role_views(s, [await queries.get_role(s, ctx.principal, role_id)])
    return out


@router.patch("/roles/{role_id}", response_model=RoleOut)
async def update_role(ctx: CurrentCtx, role_id: uuid.UUID, body: RoleUpdate) -> RoleOut:
    async with ctx.write() as uow:
        role = await actions.do_update_role(
            uow.session, actor=ctx.principal, role_id=role_id, data=body
        )
        (out,) = await queries.role_views(uow.session, [role])
    return out


@router.delete("/roles/{role_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_role(ctx: CurrentCtx, role_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_delete_role(uow.session, actor=ctx.principal, role_id=role_id)
