"""Publishing command events on the bus after commit.

Actions receive a unit of work, not the app state, so the bus they publish on is bound
per process: by the commands router's lifespan in a server and by the command sweep in a
worker. Events are hints (a WebSocket push, a browser refresh); durable delivery is driven
by the rows, so a process with no bus bound yet only loses an early push, never a command.
"""

from __future__ import annotations

import logging
from typing import Any

from breeze.commands.models import DeviceCommand
from breeze.core.bus import Bus

log = logging.getLogger("breeze.commands")
AGENT_COMMANDS = "agent.commands"
COMMAND_STATUS = "command.status"
COMMAND_OUTPUT = "command.output"
_bound: list[Bus] = []


def bind(bus: Bus) -> None:
    """Make `bus` the one actions publish on in this process."""
    _bound[:] = [bus]


def unbind(bus: Bus) -> None:
    if _bound and _bound[0] is bus:
        _bound.clear()


async def publish(topic: str, event: dict[str, Any], bus: Bus | None = None) -> None:
    """Publish, never raise: a bus outage must not turn a committed write into an error."""
    target = bus or (_bound[0] if _bound else None)
    if target is None:
        log.debug("no bus bound; %s not published", topic)
        return
    try:
        await target.publish(topic, event)
    except Exception:
        log.exception("could not publish %s", topic)


def status_event(cmd: DeviceCommand) -> dict[str, Any]:
    return {
        "command_id": str(cmd.id),
        "device_id": str(cmd.device_id),
        "batch_id": str(cmd.batch_id) if cmd.batch_id else None,
        "status": cmd.status,
        "partner_id": str(cmd.partner_id),
        "org_id": str(cmd.org_id),
    }


def agent_event(agent_id: str, device_id: Any) -> dict[str, Any]:
    return {"agent_id": agent_id, "device_id": str(device_id)}
