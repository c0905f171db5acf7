"""The agent gateway (protocol v1): enrollment and heartbeats. Thin routes.

Configuration versioning: every enroll and heartbeat answer carries the device's
`X-Breeze-Config-Version` header. The agent echoes the value it last applied in the
same request header; a heartbeat whose echo is missing or differs from the
device's config_version gets `config_update` with the full AgentConfig, which carries the
server's command-signing public key (devices enrolled before commands existed had their
config_version bumped by migration 0003, so their agents receive the key once).

The heartbeat answer's `commands` are claimed here (breeze.commands.delivery): due pending
commands become `sent` and come back signed; an agent on the WebSocket gets them pushed.
The token lookup already said whether the device has any, so a beat with nothing to hand
out (nearly every one) makes no claim query.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from breeze.agents.auth import AgentIdentity, CurrentAgent
from breeze.agents.enroll import count_unlimited_use, do_enroll
from breeze.auth.principals import client_ip
from breeze.commands.delivery import claim_envelopes
from breeze.commands.signing import public_key
from breeze.core.bus import Bus
from breeze.core.state import AppState, app_state
from breeze.devices.presence import PresenceChange
from breeze.metrics.buffer import buffer_of, check_heartbeat
from breeze.metrics.errors import BufferFull
from breeze.settings import Settings
from breeze_protocol.agent_api import (
    AgentConfig,
    EnrollRequest,
    EnrollResponse,
    HeartbeatResponse,
)
from breeze_protocol.commands import CommandEnvelope
from breeze_protocol.metrics import HeartbeatRequest

log = logging.getLogger("breeze.agents")
router = APIRouter(prefix="/agents", tags=["agent gateway"])
CONFIG_VERSION_HEADER = "X-Breeze-Config-Version"
ConfigVersionEcho = Annotated[
    int | None,
    Header(
        alias=CONFIG_VERSION_HEADER,
        ge=0,
        le=2_147_483_647,
        description="The config version the agent last applied (from the previous answer)",
    ),
]


async def _publish(bus: Bus, topic: str, event: dict[str, Any]) -> None:
    """After commit; a bus outage must not turn a done enrollment into an error."""
    try:
        await bus.publish(topic, event)
    except Exception:
        log.exception("could not publish %s for %s", topic, event.get("device_id"))


def agent_config(settings: Settings, heartbeat_interval_seconds: int) -> AgentConfig:
    return AgentConfig(
        heartbeat_interval_seconds=heartbeat_interval_seconds,
        inventory_interval_seconds=settings.agents.inventory_interval_seconds,
        command_public_key=public_key(settings),
    )


@router.post("/enroll", response_model=EnrollResponse)
async def enroll(request: Request, response: Response, body: EnrollRequest) -> EnrollResponse:
    """Trade an enrollment key for a device and its agent token (no other credential)."""
    state = app_state(request)
    async with state.db.write() as uow:
        done = await do_enroll(
            uow.session,
            data=body,
            agents=state.settings.agents,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    if done.uncounted_key_id is not None:
        await count_unlimited_use(state.db, done.uncounted_key_id)
    device = done.device
    change = PresenceChange(device.id, device.org_id, device.partner_id, device.last_seen_at)
    await _publish(state.bus, "device.enrolled", {**change.event(), "agent_id": device.agent_id})
    if done.came_online:
        await _publish(state.bus, "device.online", change.event())
    response.headers[CONFIG_VERSION_HEADER] = str(device.config_version)
    return EnrollResponse(
        agent_id=device.agent_id,
        device_id=str(device.id),
        auth_token=done.token,
        config=agent_config(state.settings, device.heartbeat_interval_seconds),
    )


def _config_update(
    settings: Settings, agent: AgentIdentity, echoed: int | None
) -> AgentConfig | None:
    if echoed == agent.config_version:
        return None
    return agent_config(settings, agent.heartbeat_interval_seconds)


@router.post(
    "/{agent_id}/heartbeat",
    response_model=HeartbeatResponse,
    responses={503: {"description": "Heartbeat buffer full; retry after Retry-After seconds"}},
)
async def heartbeat(
    request: Request,
    response: Response,
    agent: CurrentAgent,
    body: HeartbeatRequest,
    config_version: ConfigVersionEcho = None,
) -> HeartbeatResponse:
    """Buffer the beat (written in bulk within a second); answer config changes."""
    state = app_state(request)
    check_heartbeat(body)
    accepted = buffer_of(request.app).offer(
        device_id=agent.device_id, partner_id=agent.partner_id, org_id=agent.org_id, body=body
    )
    if not accepted:
        raise BufferFull(state.settings.metrics.retry_after_seconds)
    response.headers[CONFIG_VERSION_HEADER] = str(agent.config_version)
    return HeartbeatResponse(
        commands=await _claim(state, agent),
        config_update=_config_update(state.settings, agent, config_version),
    )


async def _claim(state: AppState, agent: AgentIdentity) -> list[CommandEnvelope]:
    """The beat is already accepted: a failure here must not fail it. Commands claimed but
    not handed out are handed out again after commands.redeliver_after_seconds."""
    if not agent.has_commands:
        return []
    try:
        return await claim_envelopes(state, agent.device_id, agent.agent_id)
    except Exception:
        log.exception("could not hand out commands to %s", agent.agent_id)
        return []
