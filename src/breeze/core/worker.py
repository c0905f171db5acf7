"""The background loop: each registered task runs forever on its own cadence.

Embedded mode runs it inside the server; scale-out runs `breeze worker`
processes. Tasks must be safe to run in several processes at once (they claim
rows with conditional updates).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from breeze.core import signals
from breeze.core.state import AppState

log = logging.getLogger("breeze.worker")
TaskFn = Callable[[AppState], Awaitable[None]]


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    run: TaskFn
    interval_seconds: float
    wake_on: str | None = None  # a signals name that runs it early


@dataclass
class Worker:
    state: AppState
    tasks: list[PeriodicTask]
    _running: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        for task in self.tasks:
            self._running.append(asyncio.create_task(self._loop(task), name=task.name))

    async def stop(self) -> None:
        for t in self._running:
            t.cancel()
        for t in self._running:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._running.clear()

    async def _loop(self, task: PeriodicTask) -> None:
        while True:
            try:
                await task.run(self.state)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker task %s failed; retrying next cycle", task.name)
            if task.wake_on:
                await signals.wait(task.wake_on, task.interval_seconds)
            else:
                await asyncio.sleep(task.interval_seconds)


def all_tasks() -> list[PeriodicTask]:
    """Every domain's periodic tasks."""
    from breeze.agents.tasks import TASKS as agent_tasks
    from breeze.commands.tasks import TASKS as command_tasks
    from breeze.db.tasks import TASKS as db_tasks
    from breeze.groups.tasks import TASKS as group_tasks
    from breeze.mail.tasks import TASKS as mail_tasks
    from breeze.metrics.tasks import TASKS as metric_tasks

    return [*mail_tasks, *agent_tasks, *metric_tasks, *command_tasks, *group_tasks, *db_tasks]
