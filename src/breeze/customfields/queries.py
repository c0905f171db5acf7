"""Reads of custom field definitions, through restrict()."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.pagination import Filter, ListParams, ListSpec, paginate
from breeze.core.principal import Principal, fetch_visible, restrict
from breeze.customfields.errors import CustomFieldNotFound
from breeze.customfields.models import CustomField

FIELD_LIST = ListSpec(
    sortable={
        "key": CustomField.key,
        "name": CustomField.name,
        "type": CustomField.type,
        "created_at": CustomField.created_at,
    },
    default_sort="key",
    searchable=(CustomField.key, CustomField.name),
    filters={
        "org_id": Filter(CustomField.org_id, uuid.UUID),
        "type": Filter(
            CustomField.type, description="text, number, boolean, date, select, multiselect"
        ),
    },
    time_column=CustomField.created_at,
)


async def list_fields(
    session: AsyncSession, principal: Principal, params: ListParams
) -> tuple[list[CustomField], int]:
    stmt = restrict(select(CustomField), principal, "devices:read", CustomField)
    return await paginate(session, stmt, params, FIELD_LIST, CustomField.id)


async def get_field(
    session: AsyncSession,
    principal: Principal,
    field_id: uuid.UUID,
    permission: str = "devices:read",
) -> CustomField:
    row = await fetch_visible(session, principal, permission, CustomField, field_id)
    if row is None:
        raise CustomFieldNotFound()
    return row


async def definitions_for_org(session: AsyncSession, org_id: uuid.UUID) -> list[CustomField]:
    """Every definition of an organization, by key (no permission check: callers hold a
    device of that organization they may read)."""
    stmt = select(CustomField).where(CustomField.org_id == org_id).order_by(CustomField.key)
    return list((await session.execute(stmt)).scalars())


async def visible_definitions(
    session: AsyncSession,
    principal: Principal,
    keys: Iterable[str],
    org_ids: list[uuid.UUID] | None = None,
) -> list[CustomField]:
    """The definitions with these keys in every organization the principal may read
    devices of (for device list filters)."""
    wanted = set(keys)
    if not wanted:
        return []
    stmt = restrict(select(CustomField), principal, "devices:read", CustomField).where(
        CustomField.key.in_(wanted)
    )
    if org_ids:
        stmt = stmt.where(CustomField.org_id.in_(org_ids))
    return list((await session.execute(stmt)).scalars())


async def list_fields_in_scope(
    session: AsyncSession,
    principal: Principal,
    params: ListParams,
    *,
    partner_id: uuid.UUID | None = None,
) -> tuple[list[CustomField], int]:
    """Definitions in reach within the console's scope (a partner's organizations)."""
    stmt = restrict(select(CustomField), principal, "devices:read", CustomField)
    if partner_id is not None:
        stmt = stmt.where(CustomField.partner_id == partner_id)
    return await paginate(session, stmt, params, FIELD_LIST, CustomField.id)
