"""Writes of saved views.

Not audited: a saved view is a personal preference of its user (a name and a filter),
grants nothing and reveals nothing (using it runs the list under the user's own
permissions); it has no tenant place to file an audit row under, and auditing every
tweak would bury the rows that matter.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import InvalidInput
from breeze.core.principal import Principal
from breeze.devices.filters import params_from_filters
from breeze.devices.queries import DEVICE_LIST
from breeze.savedviews import queries
from breeze.savedviews.errors import DuplicateName, TooManyViews
from breeze.savedviews.models import SavedView
from breeze.savedviews.schemas import SavedViewCreate, SavedViewUpdate

MAX_VIEWS = 100
MAX_FILTERS_BYTES = 8_000


def check_filters(resource: str, filters: dict[str, Any]) -> dict[str, Any]:
    """Only parameters of the list, each with a value the list accepts; a `sort` too."""
    if len(json.dumps(filters)) > MAX_FILTERS_BYTES:
        raise InvalidInput(f"at most {MAX_FILTERS_BYTES} bytes of filters", field="filters")
    rest = {k: v for k, v in filters.items() if k != "sort"}
    params_from_filters(DEVICE_LIST, rest, field="filters")
    if "sort" in filters:
        sort = filters["sort"]
        if not isinstance(sort, str):
            raise InvalidInput("give the sort as a string", field="filters.sort")
        for key in (k.strip().lstrip("-+") for k in sort.split(",") if k.strip()):
            if key not in DEVICE_LIST.sortable:
                raise InvalidInput(
                    f"cannot sort by '{key}'; use one of: {', '.join(DEVICE_LIST.sortable)}",
                    field="filters.sort",
                )
    return {k: v for k, v in filters.items() if v is not None}


async def _name_taken(
    session: AsyncSession, user_id: uuid.UUID, resource: str, name: str, but: uuid.UUID | None
) -> bool:
    stmt = select(SavedView.id).where(
        SavedView.user_id == user_id,
        SavedView.resource == resource,
        func.lower(SavedView.name) == name.lower(),
    )
    if but is not None:
        stmt = stmt.where(SavedView.id != but)
    return (await session.execute(stmt.limit(1))).first() is not None


async def do_create_view(
    session: AsyncSession, *, actor: Principal, data: SavedViewCreate
) -> SavedView:
    user_id = queries.owner(actor)
    name = data.name.strip()
    if not name:
        raise InvalidInput("a name cannot be blank", field="name")
    filters = check_filters(data.resource, data.filters)
    if await _name_taken(session, user_id, data.resource, name, None):
        raise DuplicateName(name)
    count = (
        await session.execute(
            select(func.count())
            .select_from(SavedView)
            .where(SavedView.user_id == user_id, SavedView.resource == data.resource)
        )
    ).scalar_one()
    if count >= MAX_VIEWS:
        raise TooManyViews(MAX_VIEWS)
    view = SavedView(
        id=uuid.uuid4(), user_id=user_id, resource=data.resource, name=name, filters=filters
    )
    session.add(view)
    await session.flush()
    return view


async def do_update_view(
    session: AsyncSession, *, actor: Principal, view_id: uuid.UUID, data: SavedViewUpdate
) -> SavedView:
    view = await queries.get_view(session, actor, view_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise InvalidInput("a name cannot be blank", field="name")
        if await _name_taken(session, view.user_id, view.resource, name, view.id):
            raise DuplicateName(name)
        view.name = name
    if "filters" in changes:
        if changes["filters"] is None:
            raise InvalidInput("filters cannot be null (give {} for none)", field="filters")
        view.filters = check_filters(view.resource, changes["filters"])
    await session.flush()
    return view


async def do_delete_view(session: AsyncSession, *, actor: Principal, view_id: uuid.UUID) -> None:
    view = await queries.get_view(session, actor, view_id)
    await session.delete(view)
