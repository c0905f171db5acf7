"""Synchronising the built-in scripts into a real (SQLite) database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from breeze.audit.models import AuditLog
from breeze.db.engine import Database, create_database
from breeze.db.models import Base
from breeze.scripts import builtin
from breeze.scripts.builtin import BUILTINS, BY_KEY, sync_builtins
from breeze.scripts.models import Script, ScriptVersion
from breeze.settings import Settings


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = create_database(Settings(data_dir=tmp_path))
    async with database.write_engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


async def _scripts(db: Database) -> dict[str, Script]:
    async with db.read() as s:
        rows = (await s.execute(select(Script))).scalars()
        return {r.name: r for r in rows}


async def _versions(db: Database, script: Script) -> list[int]:
    async with db.read() as s:
        rows = await s.execute(
            select(ScriptVersion.version)
            .where(ScriptVersion.script_id == script.id)
            .order_by(ScriptVersion.version)
        )
        return list(rows.scalars())


async def test_first_sync_creates_then_nothing_changes(db: Database) -> None:
    done = await sync_builtins(db)
    assert set(done) == set(BY_KEY)
    stored = await _scripts(db)
    assert len(stored) == len(BUILTINS)
    for b in BUILTINS:
        row = stored[b.name]
        assert (row.id, row.version, row.is_system, row.partner_id) == (b.id, 1, True, None)
        assert row.content == b.content
        assert await _versions(db, row) == [1]
    assert await sync_builtins(db) == {}
    async with db.read() as s:
        audits = (
            await s.execute(select(func.count()).where(AuditLog.action == "script.create"))
        ).scalar_one()
    assert audits == len(BUILTINS)


async def test_changed_content_becomes_a_new_version(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sync_builtins(db)
    original = builtin.read_file
    monkeypatch.setattr(
        builtin,
        "read_file",
        lambda name: original(name) + "# v2\n" if name == "disk_usage.sh" else original(name),
    )
    assert await sync_builtins(db) == {"disk-usage": "script.update v2"}
    row = (await _scripts(db))["Disk usage report"]
    assert row.version == 2 and row.content.endswith("# v2\n")
    assert await _versions(db, row) == [1, 2]
    assert await sync_builtins(db) == {}


async def test_concurrent_syncs_agree(db: Database) -> None:
    results = await asyncio.gather(*(sync_builtins(db) for _ in range(3)))
    assert sum(len(r) for r in results) == len(BUILTINS)
    for row in (await _scripts(db)).values():
        assert row.version == 1
        assert await _versions(db, row) == [1]


async def test_a_deleted_or_edited_builtin_is_restored(db: Database) -> None:
    await sync_builtins(db)
    async with db.write() as uow:
        row = await uow.session.get(Script, BY_KEY["top-processes"].id)
        assert row is not None
        row.deleted_at = row.created_at
    assert await sync_builtins(db) == {"top-processes": "restored"}
    assert (await _scripts(db))["Top processes"].deleted_at is None
