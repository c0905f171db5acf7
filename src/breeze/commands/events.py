"""Publishing command events on the bus after commit.

Actions receive a unit of work, not the app state, so the bus they publish on is bound
per process: by the commands router's lifespan in a server and by the command sweep in a
worker. Events are hints (a WebSocket push, a browser refresh); durable delivery is driven
by the rows, so a process with no bus bound yet only loses an early push, never a command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from breeze.commands.models import DeviceCommand
from breeze.core.bus import Bus

log = logging.getLogger("breeze.commands")
AGENT_COMMANDS = "agent.commands"
COMMAND_STATUS = "command.status"
COMMAND_OUTPUT = "command.output"
MANY = "many"  # an event that carries several events of its topic: {"many": [event, ...]}
MANY_CHUNK = 500  # events per bus message: a broadcast is a few messages, each of bounded size
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


async def publish_many(topic: str, items: Sequence[dict[str, Any]], bus: Bus | None = None) -> None:
    """Publish several events of one topic as a few messages (a broadcast to ten thousand
    agents is twenty bus messages, not ten thousand); one event goes as itself."""
    if len(items) == 1:
        await publish(topic, items[0], bus)
        return
    for start in range(0, len(items), MANY_CHUNK):
        await publish(topic, {MANY: list(items[start : start + MANY_CHUNK])}, bus)


def unpack(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The events a bus message carries (a `publish_many` message holds several)."""
    many = event.get(MANY)
    if isinstance(many, list):
        yield from (item for item in many if isinstance(item, dict))
    else:
        yield event


def status_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``command.status`` event of a command's row (its columns by name)."""
    batch_id = row.get("batch_id")
    return {
        "command_id": str(row["id"]),
        "device_id": str(row["device_id"]),
        "batch_id": str(batch_id) if batch_id else None,
        "status": row["status"],
        "partner_id": str(row["partner_id"]),
        "org_id": str(row["org_id"]),
    }


def status_event(cmd: DeviceCommand) -> dict[str, Any]:
    return status_of(
        {
            "id": cmd.id,
            "device_id": cmd.device_id,
            "batch_id": cmd.batch_id,
            "status": cmd.status,
            "partner_id": cmd.partner_id,
            "org_id": cmd.org_id,
        }
    )


def agent_event(agent_id: str, device_id: Any) -> dict[str, Any]:
    return {"agent_id": agent_id, "device_id": str(device_id)}
