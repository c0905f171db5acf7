"""A broadcast's envelopes are signed as one batch on the event loop in chunks, in order,
each for its own agent, with the loop free between chunks (heartbeats keep being
answered)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from breeze.commands import delivery, frames, signing
from breeze.settings import Settings
from breeze_protocol.signing import verify_envelope


def rows(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "id": uuid.uuid4(),
            "device_id": uuid.uuid4(),
            "type": "script",
            "payload": {"language": "bash", "content": f"echo {i}"},
            "nonce": f"nonce-{i:04d}-abcdefgh",
            "created_at": now,
            "expires_at": now + timedelta(hours=1),
        }
        for i in range(count)
    ]


async def test_chunks_keep_order_and_free_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames, "CHUNK", 4)
    settings = Settings(data_dir=tmp_path)
    batch = rows(10)
    agents = {row["device_id"]: f"agt_{i}" for i, row in enumerate(batch)}
    ticks: list[int] = []

    async def ticker() -> None:
        for i in range(100):
            ticks.append(i)
            await asyncio.sleep(0)

    other = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker is running
    started = len(ticks)
    envelopes = await delivery._sign(signing.private_key(settings), batch, agents)
    assert len(ticks) > started  # the loop ran other work between the three chunks
    other.cancel()

    public = signing.public_key(settings)
    assert [e.id for e in envelopes] == [str(row["id"]) for row in batch]
    assert len({e.signature for e in envelopes}) == 1  # one signature for the batch
    assert len({e.proof for e in envelopes}) == len(batch)
    for row, envelope in zip(batch, envelopes, strict=True):
        assert envelope.agent_id == agents[row["device_id"]]
        assert envelope.nonce == row["nonce"]
        assert verify_envelope(public, envelope)
