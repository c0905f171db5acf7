"""verify_chain() against a real SQLite database written by audit.actions.record()."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.sql import Executable

from breeze.audit.chain import GENESIS
from breeze.audit.models import AuditLog
from breeze.audit.verify import VerifyResult, verify_chain, verify_chain_cli
from breeze.db.models import Base
from breeze.settings import Settings
from tests.unit.audit.conftest import ROWS


async def _verify(engine: AsyncEngine, batch_size: int = 5) -> VerifyResult:
    async with AsyncSession(engine) as s:
        return await verify_chain(s, batch_size=batch_size)


async def _execute(engine: AsyncEngine, stmt: Executable) -> None:
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def test_an_untouched_chain_is_intact_across_batches(engine: AsyncEngine) -> None:
    for batch in (1, 5, ROWS, 1000):
        result = await _verify(engine, batch)
        assert result.ok, result
        assert result.rows_checked == ROWS
        assert result.message == f"audit chain intact: {ROWS} rows"


async def test_an_empty_chain_is_intact(tmp_path: Path) -> None:
    eng = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    result = await _verify(eng)
    await eng.dispose()
    assert result.ok
    assert result.rows_checked == 0


async def test_a_changed_row_is_named(engine: AsyncEngine) -> None:
    await _execute(engine, update(AuditLog).where(AuditLog.seq == 7).values(details={"i": 99}))
    result = await _verify(engine)
    assert not result.ok
    assert result.first_bad_seq == 7
    assert result.rows_checked == 6
    assert "checksum mismatch" in result.reason
    assert "seq 7" in result.message
    assert "test.step6" in result.message


async def test_a_deleted_row_leaves_a_gap_that_is_named(engine: AsyncEngine) -> None:
    await _execute(engine, delete(AuditLog).where(AuditLog.seq == 4))
    result = await _verify(engine)
    assert not result.ok
    assert result.first_bad_seq == 5
    assert "seq 4 missing" in result.reason


async def test_a_deleted_row_with_renumbered_seqs_breaks_the_link(engine: AsyncEngine) -> None:
    await _execute(engine, delete(AuditLog).where(AuditLog.seq == 4))
    for seq in range(5, ROWS + 1):
        await _execute(engine, update(AuditLog).where(AuditLog.seq == seq).values(seq=seq - 1))
    result = await _verify(engine)
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "prev_checksum" in result.reason


async def test_deleting_the_first_rows_is_detected(engine: AsyncEngine) -> None:
    await _execute(engine, delete(AuditLog).where(AuditLog.seq <= 2))
    result = await _verify(engine)
    assert not result.ok
    assert result.first_bad_seq == 3
    assert "seq 1..2 missing" in result.reason


async def test_a_first_row_not_linked_to_genesis_is_detected(engine: AsyncEngine) -> None:
    await _execute(engine, update(AuditLog).where(AuditLog.seq == 1).values(prev_checksum="a" * 64))
    result = await _verify(engine)
    assert not result.ok
    assert result.first_bad_seq == 1
    assert "genesis" in result.reason
    assert GENESIS != "a" * 64


async def test_a_rewritten_row_with_a_recomputed_checksum_breaks_the_next_link(
    engine: AsyncEngine,
) -> None:
    """A forger who fixes the changed row's checksum is caught by the row after it."""
    from breeze.audit.chain import checksum

    async with AsyncSession(engine) as s, s.begin():
        row = (await s.execute(AuditLog.__table__.select().where(AuditLog.seq == 3))).one()
        forged = AuditLog(**{**row._mapping, "details": {"i": -1}})
        new_sum = checksum(row.prev_checksum, forged)
        await s.execute(
            update(AuditLog).where(AuditLog.seq == 3).values(details={"i": -1}, checksum=new_sum)
        )
    result = await _verify(engine)
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "seq 3" in result.reason


def test_verify_alone_reads_foreign_keys_as_uuids() -> None:
    """`breeze audit verify` imports only this module: the tenant columns (foreign keys)
    must still come back as UUIDs, or every row with a partner looks tampered."""
    code = (
        "from breeze.audit.verify import verify_chain\n"
        "from breeze.audit.models import AuditLog\n"
        "cols = AuditLog.__table__.c\n"
        "print(type(cols.partner_id.type).__name__, type(cols.org_id.type).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["Uuid", "Uuid"]


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str | None) -> Settings:
    for key in list(os.environ):
        if key.startswith("BREEZE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("BREEZE_DATA_DIR", str(tmp_path))
    if url:
        monkeypatch.setenv("BREEZE_DATABASE_URL", url)
    return Settings()


async def test_cli_entry_point_reports_intact_and_unreadable_chains(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, tmp_path, str(engine.url))
    assert await verify_chain_cli(settings) == (True, f"audit chain intact: {ROWS} rows")
    await _execute(engine, update(AuditLog).where(AuditLog.seq == 2).values(result="failure"))
    ok, message = await verify_chain_cli(settings)
    assert not ok
    assert message.startswith("audit chain broken at seq 2 (id ")
    assert "action test.step1" in message
    empty = _settings(monkeypatch, tmp_path / "empty", None)
    ok, message = await verify_chain_cli(empty)
    assert not ok
    assert "cannot read the audit log" in message
