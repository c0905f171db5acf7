"""`breeze.db.sql.insert_many` (COPY on PostgreSQL, executemany on SQLite) writes what an
INSERT would, JSON columns included, and only inside the caller's transaction."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, select

from breeze.db.base import utcnow
from breeze.db.engine import create_database
from breeze.db.sql import insert_many
from breeze.settings import Settings
from breeze.tenancy.models import Partner
from tests.support.databases import migrated_database

TABLE = cast(Table, Partner.__table__)


def _partner(name: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "name": name,
        "slug": name,
        "type": "msp",
        "plan": "free",
        "settings": {"theme": "dark", "nested": [1, "two", None], "ünïcode": "✓"},
        "sso_config": {},
        "created_at": now,
        "updated_at": now,
    }


class Rollback(Exception):
    pass


async def _insert_then_fail(db: Any) -> None:
    async with db.write() as uow:
        await insert_many(uow.session, TABLE, [_partner("rolled-back")])
        raise Rollback()


async def _exercise(url: str, tmp_path: Path) -> tuple[list[Any], list[str]]:
    db = create_database(Settings(database_url=url, data_dir=tmp_path))
    try:
        kept = [_partner(f"kept-{i}") for i in range(3)]
        async with db.write() as uow:  # insert_many is the transaction's first statement
            await insert_many(uow.session, TABLE, kept)
        with pytest.raises(Rollback):
            await _insert_then_fail(db)
        async with db.read() as s:
            stored = (await s.execute(select(Partner.id, Partner.settings))).all()
            names = list((await s.scalars(select(Partner.name))).all())
        expected = {row["id"]: row["settings"] for row in kept}
        return [(i, settings, expected.get(i)) for i, settings in stored], names
    finally:
        await db.dispose()


def test_rows_are_stored_with_their_json_and_only_when_committed(tmp_path: Path) -> None:
    with migrated_database(tmp_path) as url:
        stored, names = asyncio.run(_exercise(url, tmp_path))
    assert "rolled-back" not in names
    assert sorted(n for n in names if n.startswith("kept-")) == ["kept-0", "kept-1", "kept-2"]
    for _id, settings, expected in stored:
        if expected is not None:
            assert settings == expected
