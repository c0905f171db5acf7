"""Authenticating an agent on the gateway: `Authorization: Bearer <agent token>`.

The token is stored hashed on the device row. A decommissioned device has no
token any more, so its agent gets 401 and stops.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from breeze.core.errors import Unauthorized
from breeze.core.principal import Actor
from breeze.core.security import token_hash
from breeze.core.state import app_state
from breeze.devices.models import Device

AGENT_TOKEN_PREFIX = "brz_agt_"
_bearer = HTTPBearer(auto_error=False, description="Agent token from enrollment")


@dataclass(frozen=True)
class AgentIdentity:
    device_id: uuid.UUID
    agent_id: str
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID
    heartbeat_interval_seconds: int
    config_version: int
    actor: Actor


async def current_agent(
    request: Request,
    agent_id: Annotated[str, Path(min_length=1, max_length=64)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> AgentIdentity:
    if credentials is None or not credentials.credentials.startswith(AGENT_TOKEN_PREFIX):
        raise Unauthorized("An agent token is required")
    state = app_state(request)
    async with state.db.read() as session:
        device = (
            await session.execute(
                select(Device).where(Device.agent_token_hash == token_hash(credentials.credentials))
            )
        ).scalar_one_or_none()
    if device is None or device.decommissioned_at is not None or device.agent_id != agent_id:
        raise Unauthorized("The agent token is not valid; the device may have been removed")
    ip = request.client.host if request.client else None
    return AgentIdentity(
        device_id=device.id,
        agent_id=device.agent_id,
        partner_id=device.partner_id,
        org_id=device.org_id,
        site_id=device.site_id,
        heartbeat_interval_seconds=device.heartbeat_interval_seconds,
        config_version=device.config_version,
        actor=Actor(
            type="agent",
            id=device.id,
            email=None,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        ),
    )


CurrentAgent = Annotated[AgentIdentity, Depends(current_agent)]
