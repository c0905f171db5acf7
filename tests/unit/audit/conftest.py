"""A real SQLite database holding a short audit chain written by audit.actions.record()."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from breeze.audit.actions import record
from breeze.core.principal import SYSTEM_ACTOR
from breeze.db.models import Base

ROWS = 12
PARTNER = uuid.uuid4()
ORG = uuid.uuid4()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(eng) as s, s.begin():
        for i in range(ROWS):
            await record(
                s,
                actor=SYSTEM_ACTOR,
                action=f"test.step{i}",
                details={"i": i, "name": "=cmd" if i == 3 else f"row {i}"},
                partner_id=PARTNER,  # SQLite without PRAGMA foreign_keys: no parent row needed
                org_id=ORG if i % 2 else None,
                resource_id=uuid.uuid4(),
                resource_name="=SUM(A1)" if i == 3 else f"thing {i}",
            )
    yield eng
    await eng.dispose()
