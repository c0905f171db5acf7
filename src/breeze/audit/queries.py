"""Reads of the audit log, all through restrict().

Besides the exact-match filters of AUDIT_LIST, the log takes `action` (a comma
list whose values may end in ".*" to match a prefix, e.g. "org.*") and a time
range `from` (inclusive) / `to` (exclusive); both live in AuditFilters.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.errors import BadActionFilter, BadTimeRange, ExportForbidden
from breeze.audit.models import AuditLog
from breeze.core.pagination import Filter, ListParams, ListSpec, apply_list, escape_like, paginate
from breeze.core.principal import Principal, restrict

AUDIT_LIST = ListSpec(
    sortable={
        "timestamp": AuditLog.timestamp,
        "seq": AuditLog.seq,
        "action": AuditLog.action,
        "actor_email": AuditLog.actor_email,
    },
    default_sort="-timestamp",
    searchable=(AuditLog.action, AuditLog.resource_name, AuditLog.actor_email),
    filters={
        "actor_id": Filter(AuditLog.actor_id, uuid.UUID),
        "actor_email": Filter(AuditLog.actor_email),
        "actor_type": Filter(AuditLog.actor_type, description="user, api_key, agent or system"),
        "resource_type": Filter(AuditLog.resource_type),
        "resource_id": Filter(AuditLog.resource_id),
        "result": Filter(AuditLog.result, description="success, failure or denied"),
        "partner_id": Filter(AuditLog.partner_id, uuid.UUID),
        "org_id": Filter(AuditLog.org_id, uuid.UUID),
    },
)
EXPORT_BATCH = 500
OpenSession = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _utc(value: datetime | None) -> datetime | None:
    """Naive times are read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class AuditFilters:
    exact_actions: tuple[str, ...] = ()
    action_prefixes: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(
        cls, action: str | None, since: datetime | None, until: datetime | None
    ) -> AuditFilters:
        exact: list[str] = []
        prefixes: list[str] = []
        for value in (v.strip() for v in (action or "").split(",")):
            if not value:
                continue
            if value.endswith(".*") and len(value) > 2 and "*" not in value[:-2]:
                prefixes.append(value[:-1])  # "org.*" -> "org."
            elif "*" in value:
                raise BadActionFilter(value)
            else:
                exact.append(value)
        since, until = _utc(since), _utc(until)
        if since is not None and until is not None and since > until:
            raise BadTimeRange()
        return cls(tuple(exact), tuple(prefixes), since, until)

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        matches: list[ColumnElement[bool]] = []
        if self.exact_actions:
            matches.append(AuditLog.action.in_(self.exact_actions))
        for prefix in self.action_prefixes:
            matches.append(AuditLog.action.like(escape_like(prefix) + "%", escape="\\"))
        if matches:
            stmt = stmt.where(or_(*matches))
        if self.since is not None:
            stmt = stmt.where(AuditLog.timestamp >= self.since)
        if self.until is not None:
            stmt = stmt.where(AuditLog.timestamp < self.until)
        return stmt


def visible(principal: Principal, permission: str = "audit:read") -> Select[Any]:
    return restrict(select(AuditLog), principal, permission, AuditLog)


async def list_logs(
    session: AsyncSession, principal: Principal, params: ListParams, filters: AuditFilters
) -> tuple[list[AuditLog], int]:
    """Rows the principal may read (audit:read); none at all without that permission."""
    stmt = filters.apply(visible(principal))
    return await paginate(session, stmt, params, AUDIT_LIST, AuditLog.id)


def holds_anywhere(principal: Principal, permission: str) -> bool:
    """Does the principal hold `permission` in at least one place?"""
    if principal.is_platform_admin:
        return True
    return any(permission in g.permissions for g in principal.partner_grants) or any(
        permission in g.permissions for g in principal.org_grants
    )


def require_export(principal: Principal) -> None:
    if not holds_anywhere(principal, "audit:export"):
        raise ExportForbidden()


async def export_rows(
    open_session: OpenSession,
    principal: Principal,
    params: ListParams,
    filters: AuditFilters,
    *,
    batch_size: int = EXPORT_BATCH,
) -> AsyncIterator[list[AuditLog]]:
    """Every matching row the principal may export, in seq order, batch by batch.

    Each batch is read in a short session of its own (keyset on seq), so no
    transaction stays open while the client downloads (rule 4).
    """
    require_export(principal)
    base = apply_list(filters.apply(visible(principal, "audit:export")), params, AUDIT_LIST)
    last_seq = 0
    while True:
        stmt = base.where(AuditLog.seq > last_seq).order_by(AuditLog.seq).limit(batch_size)
        async with open_session() as session:
            rows = list((await session.execute(stmt)).scalars().all())
        if not rows:
            return
        yield rows
        if len(rows) < batch_size:
            return
        last_seq = rows[-1].seq


SUGGESTION_WINDOW = 5000


async def recent_values(
    session: AsyncSession,
    principal: Principal,
    column: str,
    *,
    partner_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
    window: int = SUGGESTION_WINDOW,
    limit: int = 200,
) -> list[str]:
    """Distinct values of `column` (actor_email, action or resource_type) among the
    latest `window` rows the principal may read (of one partner or organization when
    given): suggestions for the console's filters that stay cheap however long the log
    grows."""
    if column not in {"actor_email", "action", "resource_type"}:
        raise ValueError(column)
    col = getattr(AuditLog, column)
    stmt = visible(principal)
    if partner_id is not None:
        stmt = stmt.where(AuditLog.partner_id == partner_id)
    if org_id is not None:
        stmt = stmt.where(AuditLog.org_id == org_id)
    recent = (
        stmt.with_only_columns(col.label("value"))
        .order_by(AuditLog.timestamp.desc())
        .limit(window)
        .subquery()
    )
    values = (
        select(recent.c.value)
        .where(recent.c.value.is_not(None))
        .distinct()
        .order_by(recent.c.value)
        .limit(limit)
    )
    return [str(v) for v in (await session.execute(values)).scalars()]
