"""JSON routes of users, memberships and invitations (thin: parse, act, answer)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from breeze.auth.deps import CurrentCtx
from breeze.auth.principals import request_actor
from breeze.auth.schemas import TokenPair
from breeze.core.pagination import ListParams, Page, list_query, page_of
from breeze.core.state import AppState, app_state
from breeze.users import actions, queries
from breeze.users.schemas import AcceptInvitation, MembershipSet, UserInvite, UserOut, UserUpdate

router = APIRouter(tags=["users"])
State = Annotated[AppState, Depends(app_state)]
UserList = Annotated[ListParams, Depends(list_query(queries.USER_LIST))]
PartnerQuery = Annotated[
    uuid.UUID | None,
    Query(description="Only members of this partner (partner-level or in its organizations)"),
]
OrgQuery = Annotated[uuid.UUID | None, Query(description="Only members of this organization")]


@router.get("/users", response_model=Page[UserOut])
async def list_users(
    ctx: CurrentCtx, params: UserList, partner_id: PartnerQuery = None, org_id: OrgQuery = None
) -> Page[UserOut]:
    async with ctx.read() as s:
        rows, total = await queries.list_users(
            s, ctx.principal, params, partner_id=partner_id, org_id=org_id
        )
        items = await queries.user_views(s, ctx.principal, rows)
    return page_of(items, total, params)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def invite_user(ctx: CurrentCtx, body: UserInvite) -> UserOut:
    async with ctx.write() as uow:
        user = await actions.do_invite(uow, actor=ctx.principal, settings=ctx.settings, data=body)
        out = await queries.user_view(uow.session, ctx.principal, user)
    return out


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(ctx: CurrentCtx, user_id: uuid.UUID) -> UserOut:
    async with ctx.read() as s:
        return await queries.user_view(
            s, ctx.principal, await queries.get_user(s, ctx.principal, user_id)
        )


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(ctx: CurrentCtx, user_id: uuid.UUID, body: UserUpdate) -> UserOut:
    async with ctx.write() as uow:
        user = await actions.do_update_user(
            uow.session, actor=ctx.principal, user_id=user_id, data=body
        )
        out = await queries.user_view(uow.session, ctx.principal, user)
    return out


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_user(ctx: CurrentCtx, user_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_remove_user(uow.session, actor=ctx.principal, user_id=user_id)


@router.put("/users/{user_id}/membership", response_model=UserOut)
async def set_membership(ctx: CurrentCtx, user_id: uuid.UUID, body: MembershipSet) -> UserOut:
    async with ctx.write() as uow:
        user = await actions.do_set_membership(
            uow.session, actor=ctx.principal, user_id=user_id, data=body
        )
        out = await queries.user_view(uow.session, ctx.principal, user)
    return out


@router.delete("/users/{user_id}/membership", status_code=status.HTTP_204_NO_CONTENT)
async def remove_membership(
    ctx: CurrentCtx,
    user_id: uuid.UUID,
    partner_id: Annotated[uuid.UUID | None, Query(description="A partner-level membership")] = None,
    org_id: Annotated[uuid.UUID | None, Query(description="An organization membership")] = None,
) -> None:
    async with ctx.write() as uow:
        await actions.do_remove_membership(
            uow.session, actor=ctx.principal, user_id=user_id, partner_id=partner_id, org_id=org_id
        )


@router.post("/users/{user_id}/resend-invitation", status_code=status.HTTP_204_NO_CONTENT)
async def resend_invitation(ctx: CurrentCtx, user_id: uuid.UUID) -> None:
    async with ctx.write() as uow:
        await actions.do_resend_invitation(
            uow, actor=ctx.principal, settings=ctx.settings, user_id=user_id
        )


@router.post("/auth/accept-invitation", response_model=TokenPair)
async def accept_invitation(body: AcceptInvitation, request: Request, state: State) -> TokenPair:
    """Set a password with an emailed invitation token; answers signed in. No auth needed."""
    async with state.db.write() as uow:
        issued = await actions.do_accept_invitation(
            uow.session,
            state,
            actor=request_actor(request),
            token=body.token,
            password=body.password,
            name=body.name,
        )
    return TokenPair(
        access_token=issued.access_token or "",
        refresh_token=issued.refresh_token or "",
        expires_in=issued.expires_in,
    )
