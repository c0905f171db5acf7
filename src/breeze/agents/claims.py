"""Claims of pending commands for many agent sockets at once (``agents.ws``'s delivery
tasks): the wake-ups of one broadcast become a few claim transactions, not one each."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from breeze.core.state import AppState

CLAIM_BATCH_DEVICES = 10_000  # devices whose commands one claim transaction hands out


class ClaimBatcher:
    """Claims for many connections in one go: callers that ask while a claim is running
    (or in the same loop turn) are served together by the next one."""

    def __init__(self, state: AppState, max_batch: int = CLAIM_BATCH_DEVICES) -> None:
        self.state = state
        self.max_batch = max_batch
        self._waiting: dict[uuid.UUID, tuple[str, list[asyncio.Future[list[Any]]]]] = {}
        self._runner: asyncio.Task[None] | None = None

    async def claim(self, device_id: uuid.UUID, agent_id: str) -> list[Any]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(device_id, (agent_id, []))[1].append(future)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="agent-ws-claims")
        return await future

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let wake-ups of the same broadcast join this batch
        while self._waiting:
            batch = dict(list(self._waiting.items())[: self.max_batch])
            for device_id in batch:
                del self._waiting[device_id]
            await self._claim(batch)

    async def _claim(
        self, batch: dict[uuid.UUID, tuple[str, list[asyncio.Future[list[Any]]]]]
    ) -> None:
        from breeze.commands.delivery import claim_envelopes_for

        agents = {d: agent for d, (agent, _) in batch.items()}
        try:
            claimed = await claim_envelopes_for(self.state, agents)
        except Exception as exc:
            for _agent, futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        # All at once: the sockets send together, before their agents' acknowledgements
        # (a request each) start to compete for the loop.
        for device_id, (_agent, futures) in batch.items():
            envelopes = claimed.get(device_id, [])
            for future in futures:  # two waiters (a reconnect): the envelopes go out once
                if not future.done():
                    future.set_result(envelopes)
                    envelopes = []
