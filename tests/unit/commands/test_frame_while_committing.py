"""A batch's frames are signed while its transaction commits (`frame_while_committing`):
after the commit they are ready and verify for their own agents; when the transaction
does not commit the work is cancelled, so nothing of it can reach a socket."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from breeze.commands.delivery import Framed, frame_while_committing
from breeze.commands.signing import public_key
from breeze.db.engine import Database
from breeze.settings import Settings
from breeze_protocol.commands import WsCommand
from breeze_protocol.signing import verify_envelope
from tests.support.databases import new_database


def sent_rows(count: int) -> tuple[list[dict[str, Any]], dict[uuid.UUID, str]]:
    created = datetime.now(UTC)
    payload = {"language": "bash", "content": "true"}
    rows = [
        {
            "id": uuid.uuid4(),
            "device_id": uuid.uuid4(),
            "type": "script",
            "payload": payload,
            "created_at": created,
            "expires_at": created + timedelta(hours=1),
            "nonce": f"nonce-{i:012d}",
        }
        for i in range(count)
    ]
    return rows, {row["device_id"]: f"agt_{i}" for i, row in enumerate(rows)}


async def _scenario(url: str, settings: Settings) -> None:
    engine = create_async_engine(url)
    db = Database(url, engine, engine, is_sqlite=url.startswith("sqlite"))
    rows, agents = sent_rows(1_200)  # more than one signing chunk
    try:
        async with db.write() as uow:
            framing = frame_while_committing(uow, settings, rows, agents)
        framed: Framed = await framing
        assert [(d, a) for d, a, _ in framed] == [
            (r["device_id"], agents[r["device_id"]]) for r in rows
        ]
        key = public_key(settings)
        for (_, agent_id, text), row in zip(framed, rows, strict=True):
            envelope = WsCommand.model_validate_json(text).command
            assert (envelope.id, envelope.agent_id) == (str(row["id"]), agent_id)
            assert verify_envelope(key, envelope)

        async def rolled_back() -> asyncio.Task[Framed]:
            async with db.write() as uow:
                task = frame_while_committing(uow, settings, rows, agents)
                await asyncio.sleep(0)  # started: the first chunk is signed
                raise RuntimeError(task)

        with pytest.raises(RuntimeError) as raised:
            await rolled_back()
        task = raised.value.args[0]
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
    finally:
        await engine.dispose()


def test_frames_are_ready_after_commit_and_dropped_on_rollback(tmp_path: Path) -> None:
    database = new_database(tmp_path / "db")
    try:
        asyncio.run(_scenario(database.url, Settings(data_dir=tmp_path)))
    finally:
        database.drop()
