"""Checking the audit hash chain, from the API and from `breeze audit verify`.

Rows are walked in seq order, batch by batch. Each row must follow the previous
one (seq + 1), link to its checksum (prev_checksum), and hash to its own
checksum. A changed row breaks its checksum; a deleted row leaves a seq gap (or,
if the seqs were renumbered, a broken prev_checksum link).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

import breeze.db.models  # noqa: F401  (complete metadata: FK columns get their real types)
from breeze.audit.chain import GENESIS, checksum
from breeze.audit.models import AuditLog
from breeze.db.engine import create_database
from breeze.settings import Settings

VERIFY_BATCH = 1000


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows_checked: int
    first_bad_seq: int | None = None
    first_bad_id: uuid.UUID | None = None
    first_bad_action: str | None = None
    reason: str | None = None

    @property
    def message(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.rows_checked} rows"
        return (
            f"audit chain broken at seq {self.first_bad_seq} "
            f"(id {self.first_bad_id}, action {self.first_bad_action}): {self.reason}"
        )


def _problem(row: AuditLog, expected_seq: int, prev_sum: str) -> str | None:
    """What is wrong with `row`, given the seq and checksum it must follow."""
    if row.seq > expected_seq:
        gap = f"seq {expected_seq}" + (f"..{row.seq - 1}" if row.seq > expected_seq + 1 else "")
        return f"{gap} missing before this row: row(s) deleted"
    if row.seq != expected_seq:
        return f"unexpected seq (expected {expected_seq})"
    if row.prev_checksum != prev_sum:
        if expected_seq == 1:
            return "the first row does not link to the genesis checksum"
        return (
            f"prev_checksum does not match the checksum of seq {expected_seq - 1}: "
            "a row before it was changed or deleted"
        )
    if checksum(row.prev_checksum, row) != row.checksum:
        return "checksum mismatch: the row was changed after it was written"
    return None


async def verify_chain(session: AsyncSession, *, batch_size: int = VERIFY_BATCH) -> VerifyResult:
    """Walk the whole chain; stop at the first broken link."""
    expected_seq, prev_sum, checked = 1, GENESIS, 0
    last_seq: int | None = None
    while True:
        stmt = select(AuditLog).order_by(AuditLog.seq).limit(batch_size)
        if last_seq is not None:
            stmt = stmt.where(AuditLog.seq > last_seq)
        rows = list((await session.execute(stmt)).scalars().all())
        for row in rows:
            reason = _problem(row, expected_seq, prev_sum)
            if reason is not None:
                return VerifyResult(False, checked, row.seq, row.id, row.action, reason)
            checked += 1
            expected_seq, prev_sum = row.seq + 1, row.checksum
        # Rows are not needed once checked; keep memory flat on long chains.
        session.expunge_all()
        if len(rows) < batch_size:
            return VerifyResult(True, checked)
        last_seq = rows[-1].seq


async def verify_chain_cli(settings: Settings) -> tuple[bool, str]:
    """(intact?, a message naming the first broken link) for `breeze audit verify`."""
    db = create_database(settings)
    try:
        async with db.read() as session:
            result = await verify_chain(session)
    except SQLAlchemyError as exc:
        reason = str(exc.orig if isinstance(exc, DBAPIError) else exc).splitlines()[0]
        return False, f"cannot read the audit log ({reason}); is the database migrated?"
    finally:
        await db.dispose()
    return result.ok, result.message
