"""Running a coroutine at once, up to the point where it first has to wait.

A broadcast sends one WebSocket frame to each of ten thousand sockets. Sending a frame
almost never waits (the transport takes it), but it may (a peer that stopped reading
fills its buffer), so every send used to be an awaited step of that socket's own task:
ten thousand task wake-ups and send deadlines, about 200 ms of the 0.8 s a
10,000-agent broadcast spent sending (py-spy, bench/README.md). `start_eagerly` runs a
send on the spot instead and only leaves a remainder to await when it really had to
wait, which is what Python 3.12's eager tasks do for a whole task (this code base
supports 3.11).
"""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
from typing import Any


def start_eagerly(coro: Coroutine[Any, Any, Any]) -> Coroutine[Any, Any, None] | None:
    """Run `coro` now. None when it finished without waiting; otherwise an awaitable that
    finishes it (await it, or `close()` it to abandon the rest). Its exceptions propagate
    from here when raised before the first wait, else from the awaitable. Its result is
    dropped."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return _rest_of(coro, waiting_on)


@types.coroutine
def _rest_of(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Generator[Any, Any, None]:
    """Resume `coro`, suspended on `waiting_on`, as ``await`` would have (PEP 380's
    ``yield from``): what it waits on goes to the running task, what the task sends or
    throws (a cancellation) goes back into it, and closing this closes it."""
    try:
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                raise
            except BaseException as exc:  # thrown by the task (a cancellation): pass it on
                waiting_on = coro.throw(exc)
            else:
                waiting_on = coro.send(sent)
    except StopIteration:
        return
    finally:
        coro.close()  # abandoned: its own cleanup runs (done: a no-op)
