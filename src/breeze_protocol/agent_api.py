"""Request and answer bodies of the agent gateway that are not inventory or metrics:
enrollment, agent configuration, the heartbeat answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from breeze_protocol._base import WireModel
from breeze_protocol.commands import CommandEnvelope

OsType = Literal["linux", "windows", "macos"]


class AgentConfig(WireModel):
    """Settings the server hands to an agent (at enrollment and as config_update)."""

    heartbeat_interval_seconds: int = Field(
        60, ge=5, le=3600, description="Seconds between heartbeats (the agent adds +-10% jitter)."
    )
    inventory_interval_seconds: int = Field(
        3600, ge=60, le=86400, description="Seconds between inventory delta checks."
    )
    command_public_key: str | None = Field(
        None,
        max_length=100,
        description="Ed25519 public key (raw, base64url) that signs this server's commands. "
        "The agent keeps the first one it is given and refuses commands it does not verify.",
    )


class EnrollRequest(WireModel):
    """Body of ``POST /api/v1/agents/enroll``."""

    enrollment_key: str = Field(min_length=8, max_length=200, description="Key from the console.")
    machine_id: str = Field(
        min_length=8,
        max_length=128,
        description="Stable identity of the machine (/etc/machine-id on Linux); re-enrolling "
        "the same machine replaces its token instead of creating a second device.",
    )
    hostname: str = Field(min_length=1, max_length=255, description="Host name.")
    os_type: OsType = Field(description="Operating system family.")
    os_version: str = Field("", max_length=100, description="OS version, e.g. 12 (bookworm).")
    os_build: str = Field("", max_length=100, description="OS build or kernel.")
    architecture: str = Field("", max_length=20, description="CPU architecture, e.g. x86_64.")
    agent_version: str = Field(min_length=1, max_length=50, description="Agent version.")
    hardware_info: dict[str, Any] = Field(
        default_factory=dict, description="Hardware section (as in the inventory)."
    )
    network_info: dict[str, Any] = Field(
        default_factory=dict, description="Network section (as in the inventory)."
    )


class EnrollResponse(WireModel):
    """Answer of a successful enrollment; ``auth_token`` is shown only here."""

    agent_id: str = Field(description="Public id of this agent, used in gateway URLs.")
    device_id: str = Field(description="Id of the device in the console API.")
    auth_token: str = Field(description="Bearer token for every later gateway call.")
    config: AgentConfig = Field(description="Initial agent configuration.")


class HeartbeatResponse(WireModel):
    """Answer of ``POST /api/v1/agents/{agent_id}/heartbeat``."""

    commands: list[CommandEnvelope] = Field(
        default_factory=list, description="Signed commands to run (or cancel), oldest first."
    )
    config_update: AgentConfig | None = Field(
        None, description="New configuration when it changed since the agent's last beat."
    )
    upgrade_to: str | None = Field(None, description="Agent version to upgrade to, if any.")
