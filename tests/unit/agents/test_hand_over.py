"""A batch's frames are sent to the agent sockets in one pass (`AgentHub.hand_over`):
each socket that can take its frame gets it on the spot, before the hand-over returns;
a socket that cannot (its peer's buffer is full) is not waited for, and gets its frames,
in order, from its own delivery task once it can."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

from starlette.websockets import WebSocketDisconnect, WebSocketState

from breeze.agents.ws import AgentHub, Connection
from breeze.core.state import AppState


class PeerSocket:
    """Stands in for Starlette's WebSocket: records frames; a `stalled` one makes every
    send wait until it is released, as a send to a peer that stopped reading does."""

    def __init__(self, stalled: bool = False, gone: bool = False) -> None:
        self.frames: list[str] = []
        self.stalled = stalled
        self.gone = gone
        self.released = asyncio.Event()
        self.application_state = WebSocketState.CONNECTED
        self.closed_with: int | None = None

    async def send_text(self, text: str) -> None:
        if self.gone:
            raise WebSocketDisconnect(1006)
        if self.stalled:
            await self.released.wait()
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code
        self.application_state = WebSocketState.DISCONNECTED


def connect(hub: AgentHub, socket: PeerSocket) -> Connection:
    conn = Connection(
        websocket=cast(Any, socket), agent_id=uuid.uuid4().hex, device_id=uuid.uuid4()
    )
    hub.local[conn.agent_id] = conn
    return conn


def frame(conn: Connection, text: str) -> tuple[uuid.UUID, str, str]:
    return (conn.device_id, conn.agent_id, text)


async def test_frames_go_on_the_spot_and_a_stalled_socket_does_not_hold_up_the_rest() -> None:
    hub = AgentHub(cast(AppState, object()))
    fast, slow = PeerSocket(), PeerSocket(stalled=True)
    a, b, c = connect(hub, fast), connect(hub, slow), connect(hub, PeerSocket())
    delivery = asyncio.create_task(hub._deliver(b))

    handed = await hub.hand_over([frame(a, "a1"), frame(b, "b1"), frame(c, "c1")])
    handed += await hub.hand_over([frame(b, "b2"), frame(a, "a2")])

    assert handed == 5
    assert fast.frames == ["a1", "a2"]
    assert cast(PeerSocket, c.websocket).frames == ["c1"]
    assert slow.frames == []  # b1 is waiting on the peer; b2 is queued behind it
    slow.released.set()
    for _ in range(100):
        if len(slow.frames) == 2:
            break
        await asyncio.sleep(0.01)
    assert slow.frames == ["b1", "b2"]
    b.closed = True
    b.wake.set()
    await asyncio.wait_for(delivery, 5)


async def test_frames_for_a_replaced_or_vanished_agent_are_not_handed_over() -> None:
    hub = AgentHub(cast(AppState, object()))
    socket = PeerSocket()
    conn = connect(hub, socket)
    stranger = (uuid.uuid4(), uuid.uuid4().hex, "x")
    re_enrolled = (uuid.uuid4(), conn.agent_id, "y")  # same agent id, another device

    assert await hub.hand_over([stranger, re_enrolled]) == 0
    assert socket.frames == []


async def test_a_socket_that_is_gone_is_closed_and_the_others_still_get_theirs() -> None:
    hub = AgentHub(cast(AppState, object()))
    gone, fine = PeerSocket(gone=True), PeerSocket()
    a, b = connect(hub, gone), connect(hub, fine)

    await hub.hand_over([frame(a, "a1"), frame(b, "b1")])
    for _ in range(100):
        if a.closed:
            break
        await asyncio.sleep(0.01)

    assert fine.frames == ["b1"]
    assert a.closed
