"""Re-evaluation scheduled on a session's commit: it runs after COMMIT, is dropped on
rollback, and the session is freed as soon as it closes (its listeners must not hold it:
a reference cycle per inventory upload kept whole sessions for the garbage collector)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

import breeze.db.models  # noqa: F401  (every table)
from breeze.db.base import Base
from breeze.db.engine import Database
from breeze.groups import evaluation
from tests.support.databases import new_database


async def _scenario(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_async_engine(url)
    db = Database(url, engine, engine, is_sqlite=url.startswith("sqlite"))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    started: list[set[object]] = []

    async def record(_target: object, ids: set[object]) -> None:
        started.append(set(ids))

    monkeypatch.setattr(evaluation, "reevaluate_devices", record)
    try:
        gc.disable()  # only reference counting may free the session
        async with db.write() as uow:
            evaluation.reevaluate_after_commit(uow.session, ["a", "b"])
            evaluation.reevaluate_after_commit(uow.session, ["c"])
            alive = weakref.ref(uow.session.sync_session)
        del uow
        assert alive() is None
        await asyncio.sleep(0)
        assert started == [{"a", "b", "c"}]

        async def rolled_back() -> None:
            async with db.write() as uow:
                evaluation.reevaluate_after_commit(uow.session, ["d"])
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await rolled_back()
        await asyncio.sleep(0)
        assert started == [{"a", "b", "c"}]  # nothing for the rolled-back session
    finally:
        gc.enable()
        await engine.dispose()


def test_runs_after_commit_only_and_frees_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = new_database(tmp_path)
    try:
        asyncio.run(_scenario(database.url, monkeypatch))
    finally:
        database.drop()
