"""Direct database access for what the API cannot do on purpose: moving an
invitation's expiry into the past, and reading audit rows without the audit API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from breeze.audit.models import AuditLog
from breeze.users.models import Invitation, User
from tests.support.server import LiveServer


async def _run(server: LiveServer, stmt: Any) -> list[Any]:
    engine = create_async_engine(server.database.url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(stmt)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


def _uuid(value: Any) -> str | None:
    return str(uuid.UUID(str(value))) if value else None


def expire_invitations(server: LiveServer, email: str) -> None:
    user_ids = select(User.id).where(User.email == email.lower()).scalar_subquery()
    past = datetime.now(UTC) - timedelta(minutes=1)
    asyncio.run(
        _run(
            server, update(Invitation).where(Invitation.user_id == user_ids).values(expires_at=past)
        )
    )


def audit_rows(server: LiveServer, resource_id: str) -> list[dict[str, Any]]:
    """Audit rows about one resource, oldest first: action, tenant ids and details."""
    stmt = (
        select(
            AuditLog.action,
            AuditLog.partner_id,
            AuditLog.org_id,
            AuditLog.details,
            AuditLog.actor_email,
        )
        .where(AuditLog.resource_id == resource_id)
        .order_by(AuditLog.seq)
    )
    rows = asyncio.run(_run(server, stmt))
    return [
        {
            "action": r.action,
            "partner_id": _uuid(r.partner_id),
            "org_id": _uuid(r.org_id),
            "details": r.details,
            "actor_email": r.actor_email,
        }
        for r in rows
    ]


def audit_actions(server: LiveServer, resource_id: str) -> list[str]:
    return [r["action"] for r in audit_rows(server, resource_id)]
