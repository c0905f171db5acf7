"""Reads of API keys, all through restrict()."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.apikeys.errors import ApiKeyNotFound
from breeze.apikeys.models import ApiKey
from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, fetch_visible, restrict

API_KEY_LIST = ListSpec(
    sortable={
        "name": ApiKey.name,
        "created_at": ApiKey.created_at,
        "last_used_at": ApiKey.last_used_at,
        "expires_at": ApiKey.expires_at,
    },
    default_sort="-created_at",
    searchable=(ApiKey.name, ApiKey.prefix),
    filters={
        "partner_id": Filter(ApiKey.partner_id, uuid.UUID),
        "org_id": Filter(ApiKey.org_id, uuid.UUID),
        "user_id": Filter(ApiKey.user_id, uuid.UUID, "Only keys created by these users"),
    },
    time_column=ApiKey.created_at,
)


async def list_api_keys(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    revoked: bool | None = None,
) -> tuple[list[ApiKey], int]:
    """Keys the principal may read; `revoked` keeps only revoked (True) or live (False) ones."""
    stmt = restrict(select(ApiKey), principal, "api_keys:read", ApiKey)
    if revoked is not None:
        column = ApiKey.revoked_at
        stmt = stmt.where(column.is_not(None) if revoked else column.is_(None))
    return await paginate(session, stmt, params, API_KEY_LIST, ApiKey.id)


async def get_api_key(
    session: AsyncSession,
    principal: Principal,
    key_id: uuid.UUID,
    permission: str = "api_keys:read",
) -> ApiKey:
    key = await fetch_visible(session, principal, permission, ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound()
    return key
