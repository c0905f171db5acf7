"""Acks and results to the server: over the WebSocket when the server takes them there (a
frame, then its receipt once stored), else POSTed. Either way the caller sees the same
outcome: it returns once the server has the report, ``Refused`` for a 4xx, ``Revoked``
for a refused token and ``TransportError`` for anything worth trying again."""

from __future__ import annotations

from typing import Protocol

from breeze_agent.transport import Gateway, Refused, RetryLater, Revoked
from breeze_protocol.commands import CommandAck, CommandResult, WsAck, WsReceipt, WsResult


class ReportSocket(Protocol):
    """What is needed of ``breeze_agent.ws.AgentSocket``."""

    @property
    def connected(self) -> bool: ...

    async def report(self, frame: WsAck | WsResult) -> WsReceipt | None: ...


async def send_ack(
    gw: Gateway, socket: ReportSocket | None, agent_id: str, command_id: str, ack: CommandAck
) -> None:
    receipt = await _over(socket, WsAck(command_id=command_id, ack=ack))
    if receipt is None:
        await gw.ack(agent_id, command_id, ack)
    else:
        raise_for(receipt)


async def send_result(
    gw: Gateway,
    socket: ReportSocket | None,
    agent_id: str,
    command_id: str,
    result: CommandResult,
) -> None:
    receipt = await _over(socket, WsResult(command_id=command_id, result=result))
    if receipt is None:
        await gw.result(agent_id, command_id, result)
    else:
        raise_for(receipt)


async def _over(socket: ReportSocket | None, frame: WsAck | WsResult) -> WsReceipt | None:
    if socket is None or not socket.connected:
        return None
    return await socket.report(frame)


def raise_for(receipt: WsReceipt) -> None:
    """What the same status would raise on the HTTP path."""
    status, detail = receipt.status, receipt.error or ""
    if status < 300:
        return
    if status in (401, 403):
        raise Revoked(f"{status}: {detail}")
    if status == 429 or status >= 500:
        raise RetryLater(f"{receipt.kind} not stored ({status}): {detail}", None)
    raise Refused(status, detail)
