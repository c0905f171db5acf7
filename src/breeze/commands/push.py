"""Handing a new batch straight to the agent sockets of this process.

A batch for devices whose agents hold a WebSocket on this process skips the claim round
trip (bus event, wake-up, a read, then ``UPDATE ... RETURNING`` of every row): those rows
are written already ``sent``; their envelopes are signed as one batch while the
transaction commits (`commands.delivery.frame_while_committing`) and, once it has
committed, sent to the sockets as frames (`commands.frames`). A socket
that has closed in between leaves its command ``sent`` without an acknowledgement; the
sweep puts it back to ``pending`` after ``commands.redeliver_after_seconds``, as for any
claimed command whose frame was lost.
Devices without a socket here (offline, or connected to another server process) get
``pending`` rows and the bus event, as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Protocol


class LocalSockets(Protocol):
    """The agent sockets open on this process (the agent hub)."""

    def agents_of(self, device_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """{device id: agent id} for those of `device_ids` with a socket open here."""
        ...

    async def hand_over(self, frames: Sequence[tuple[uuid.UUID, str, str]]) -> int:
        """Send each (device id, agent id, frame text) on that device's socket, if the
        socket is still that agent's, without waiting on a slow one (its frame is
        queued); returns how many found one."""
        ...
