"""Many events of one topic travel as a few bus messages and arrive as the same events."""

from __future__ import annotations

import asyncio

from breeze.commands import events
from breeze.core.bus import MemoryBus


def _status(i: int) -> dict[str, object]:
    return {"command_id": f"c{i}", "status": "pending"}


async def _published(items: list[dict[str, object]]) -> list[dict[str, object]]:
    bus = MemoryBus()
    async with bus.subscribe(events.COMMAND_STATUS) as queue:
        await events.publish_many(events.COMMAND_STATUS, items, bus)
        messages = []
        while not queue.empty():
            messages.append(queue.get_nowait()[1])
    return messages


def test_a_broadcast_is_a_few_messages_that_unpack_to_every_event() -> None:
    items = [_status(i) for i in range(events.MANY_CHUNK * 2 + 1)]
    messages = asyncio.run(_published(items))
    assert len(messages) == 3
    assert [e for m in messages for e in events.unpack(m)] == items


def test_one_event_goes_as_itself_and_none_sends_nothing() -> None:
    assert asyncio.run(_published([_status(1)])) == [_status(1)]
    assert list(events.unpack(_status(1))) == [_status(1)]
    assert asyncio.run(_published([])) == []


def test_junk_inside_a_many_message_is_skipped() -> None:
    assert list(events.unpack({events.MANY: [_status(1), "junk", 3]})) == [_status(1)]
