"""JSON routes of enrollment keys (console). The agent gateway is mounted by `app.py`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from breeze.agents import actions, queries
from breeze.agents.releases import router as releases
from breeze.agents.schemas import (
    EnrollmentKeyCreate,
    EnrollmentKeyCreated,
    EnrollmentKeyOut,
    EnrollmentKeyUpdate,
)
from breeze.auth.deps import CurrentCtx
from breeze.core.pagination import ListParams, Page, list_query, page_of

keys = APIRouter(prefix="/enrollment-keys", tags=["enrollment keys"])
KeyList = Annotated[ListParams, Depends(list_query(queries.ENROLLMENT_KEY_LIST))]
Revoked = Annotated[
    bool | None,
    Query(description="true: only revoked keys; false: only keys that are not revoked"),
]


@keys.get("", response_model=Page[EnrollmentKeyOut])
async def list_enrollment_keys(
    ctx: CurrentCtx, params: KeyList, revoked: Revoked = None
) -> Page[EnrollmentKeyOut]:
    async with ctx.read() as s:
        rows, total = await queries.list_enrollment_keys(s, ctx.principal, params, revoked=revoked)
    return page_of([EnrollmentKeyOut.model_validate(r) for r in rows], total, params)


@keys.post("", response_model=EnrollmentKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_enrollment_key(ctx: CurrentCtx, body: EnrollmentKeyCreate) -> EnrollmentKeyCreated:
    async with ctx.write() as uow:
        key, raw = await actions.do_create_enrollment_key(
            uow.session, actor=ctx.principal, data=body
        )
    return EnrollmentKeyCreated(
        **EnrollmentKeyOut.model_validate(key).model_dump(),
        key=raw,
        install_command=actions.install_command(ctx.settings.server.public_url, raw),
    )


@keys.get("/{key_id}", response_model=EnrollmentKeyOut)
async def get_enrollment_key(ctx: CurrentCtx, key_id: uuid.UUID) -> EnrollmentKeyOut:
    async with ctx.read() as s:
        key = await queries.get_enrollment_key(s, ctx.principal, key_id)
    return EnrollmentKeyOut.model_validate(key)


@keys.patch("/{key_id}", response_model=EnrollmentKeyOut)
async def update_enrollment_key(
    ctx: CurrentCtx, key_id: uuid.UUID, body: EnrollmentKeyUpdate
) -> EnrollmentKeyOut:
    async with ctx.write() as uow:
        key = await actions.do_update_enrollment_key(
            uow.session, actor=ctx.principal, key_id=key_id, data=body
        )
    return EnrollmentKeyOut.model_validate(key)


@keys.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_enrollment_key(ctx: CurrentCtx, key_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_revoke_enrollment_key(uow.session, actor=ctx.principal, key_id=key_id)


router = APIRouter()
router.include_router(keys)
router.include_router(releases)
