"""`start_eagerly` runs a coroutine on the spot and leaves a remainder only when the
coroutine had to wait; the remainder behaves as the rest of an ``await`` would (result,
exceptions, cancellation, clean-up)."""

from __future__ import annotations

import asyncio

import pytest

from breeze.core.eager import start_eagerly


async def record(trace: list[str], gate: asyncio.Event | None = None) -> str:
    trace.append("started")
    try:
        if gate is not None:
            await gate.wait()
        trace.append("finished")
        return "done"
    finally:
        trace.append("cleaned up")


async def test_a_coroutine_that_never_waits_finishes_on_the_spot() -> None:
    trace: list[str] = []
    assert start_eagerly(record(trace)) is None
    assert trace == ["started", "finished", "cleaned up"]


async def test_one_that_waits_stops_there_and_its_rest_finishes_it() -> None:
    trace: list[str] = []
    gate = asyncio.Event()
    rest = start_eagerly(record(trace, gate))
    assert rest is not None
    assert trace == ["started"]  # ran up to the wait, not beyond
    finishing = asyncio.create_task(rest)
    await asyncio.sleep(0)
    assert not finishing.done()  # still waiting on the gate
    gate.set()
    assert await asyncio.wait_for(finishing, 5) is None
    assert trace == ["started", "finished", "cleaned up"]


async def test_the_rest_may_be_awaited_after_what_it_waits_on_is_done() -> None:
    trace: list[str] = []
    gate = asyncio.Event()
    rest = start_eagerly(record(trace, gate))
    assert rest is not None
    gate.set()
    await asyncio.sleep(0.01)  # the gate's waiter is done before anyone awaits the rest
    await asyncio.wait_for(rest, 5)
    assert trace[-2:] == ["finished", "cleaned up"]


async def test_an_error_before_the_first_wait_is_raised_at_once() -> None:
    async def fails() -> None:
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        start_eagerly(fails())


async def test_an_error_after_the_wait_is_raised_by_the_rest() -> None:
    gate = asyncio.Event()

    async def fails_later() -> None:
        await gate.wait()
        raise ConnectionResetError("gone")

    rest = start_eagerly(fails_later())
    assert rest is not None
    gate.set()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(rest, 5)


async def test_cancelling_the_rest_cancels_the_coroutine_inside() -> None:
    trace: list[str] = []
    rest = start_eagerly(record(trace, asyncio.Event()))
    assert rest is not None
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await rest
    assert trace == ["started", "cleaned up"]


async def test_closing_an_abandoned_rest_runs_the_coroutines_clean_up() -> None:
    trace: list[str] = []
    rest = start_eagerly(record(trace, asyncio.Event()))
    assert rest is not None
    rest.close()
    assert trace == ["started", "cleaned up"]
