"""Writing audit rows. Called by every action, inside its own transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.chain import GENESIS, checksum
from breeze.audit.models import AuditLog
from breeze.core.principal import Actor
from breeze.db.base import utcnow
from breeze.db.engine import Database

# Any constant works; it names the PostgreSQL advisory lock that orders the chain.
CHAIN_LOCK_KEY = 0x42524545  # "BREE"


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    resource_type: str | None = None,
    resource_id: uuid.UUID | str | None = None,
    resource_name: str | None = None,
    partner_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    result: str = "success",
    error_message: str | None = None,
) -> AuditLog:
    """Append one row to the chain in the caller's transaction.

    On PostgreSQL an advisory transaction lock serialises appends until commit;
    on SQLite the write transaction already holds the database write lock.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # The caller's pending writes go out first: the lock is held until COMMIT and
        # every audited write in the system waits for it, so nothing else runs under it.
        await session.flush()
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
    last = (
        await session.execute(
            select(AuditLog.seq, AuditLog.checksum).order_by(AuditLog.seq.desc()).limit(1)
        )
    ).first()
    prev_seq, prev_sum = (last[0], last[1]) if last else (0, GENESIS)
    row = AuditLog(
        id=uuid.uuid4(),
        seq=prev_seq + 1,
        partner_id=partner_id,
        org_id=org_id,
        timestamp=utcnow(),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_email=actor.email,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        resource_name=(resource_name or None) and resource_name[:300],
        details=details or {},
        ip_address=actor.ip,
        user_agent=(actor.user_agent or None) and actor.user_agent[:500],
        result=result,
        error_message=error_message,
        prev_checksum=prev_sum,
    )
    row.checksum = checksum(prev_sum, row)
    session.add(row)
    await session.flush()
    return row


async def record_alone(db: Database, **kwargs: Any) -> None:
    """Record a row in a transaction of its own (failed or denied attempts, whose
    business transaction rolls back)."""
    async with db.write() as uow:
        await record(uow.session, **kwargs)
