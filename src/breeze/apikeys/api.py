"""JSON routes of API keys (thin: parse, act, answer)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from breeze.apikeys import actions, queries
from breeze.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyUpdate
from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of

router = APIRouter(prefix="/api-keys", tags=["api keys"])
KeyList = Annotated[ListParams, Depends(list_query(queries.API_KEY_LIST))]
Revoked = Annotated[
    bool | None,
    Query(description="true: only revoked keys; false: only keys that are not revoked"),
]


@router.get("", response_model=Page[ApiKeyOut])
async def list_api_keys(
    ctx: CurrentCtx, params: KeyList, revoked: Revoked = None
) -> Page[ApiKeyOut]:
    async with ctx.read() as s:
        rows, total = await queries.list_api_keys(s, ctx.principal, params, revoked=revoked)
    return page_of([ApiKeyOut.model_validate(r) for r in rows], total, params)


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(ctx: CurrentCtx, body: ApiKeyCreate) -> ApiKeyCreated:
    async with ctx.write() as uow:
        key, raw = await actions.do_create_api_key(uow.session, actor=ctx.principal, data=body)
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": raw})


@router.get("/{key_id}", response_model=ApiKeyOut)
async def get_api_key(ctx: CurrentCtx, key_id: uuid.UUID) -> ApiKeyOut:
    async with ctx.read() as s:
        return ApiKeyOut.model_validate(await queries.get_api_key(s, ctx.principal, key_id))


@router.patch("/{key_id}", response_model=ApiKeyOut)
async def update_api_key(ctx: CurrentCtx, key_id: uuid.UUID, body: ApiKeyUpdate) -> ApiKeyOut:
    async with ctx.write() as uow:
        key = await actions.do_update_api_key(
            uow.session, actor=ctx.principal, key_id=key_id, data=body
        )
    return ApiKeyOut.model_validate(key)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(ctx: CurrentCtx, key_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_revoke_api_key(uow.session, actor=ctx.principal, key_id=key_id)
