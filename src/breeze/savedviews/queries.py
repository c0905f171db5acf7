"""Reads of saved views: a user sees their own and nobody else's (another's answers 404)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal
from breeze.savedviews.errors import NoUser, SavedViewNotFound
from breeze.savedviews.models import SavedView

VIEW_LIST = ListSpec(
    sortable={
        "name": SavedView.name,
        "created_at": SavedView.created_at,
        "updated_at": SavedView.updated_at,
    },
    default_sort="name",
    searchable=(SavedView.name,),
    filters={"resource": Filter(SavedView.resource, description="devices")},
)


def owner(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise NoUser()
    return principal.user_id


async def list_views(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[SavedView], int]:
    stmt = select(SavedView).where(SavedView.user_id == owner(principal))
    return await paginate(session, stmt, params, VIEW_LIST, SavedView.id)


async def get_view(session: AsyncSession, principal: Principal, view_id: uuid.UUID) -> SavedView:
    stmt = select(SavedView).where(SavedView.id == view_id, SavedView.user_id == owner(principal))
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise SavedViewNotFound()
    return row
