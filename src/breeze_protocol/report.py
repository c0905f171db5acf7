"""Whole documents: the inventory upload and what ``breeze-agent collect`` prints."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from breeze_protocol._base import WireModel
from breeze_protocol.inventory import (
    DisksInfo,
    HardwareInfo,
    NetworkInfo,
    OsInfo,
    RemoteAccessInfo,
    UsersInfo,
)
from breeze_protocol.metrics import HeartbeatMetrics
from breeze_protocol.software import SoftwareInventory

PROTOCOL_VERSION = 1

INVENTORY_SECTIONS = ("hardware", "os", "network", "disks", "software", "users", "remote_access")


class Inventory(WireModel):
    """Body of ``PUT /api/v1/agents/{agent_id}/inventory`` (full form).

    A section is null only when its collector failed outright; ``errors`` says why.
    """

    protocol_version: int = Field(PROTOCOL_VERSION, description="Agent protocol version.")
    mode: Literal["full", "delta"] = Field(
        "full",
        description="full: every section is sent. delta: only the sections that changed are "
        "sent; a missing (null) section is unchanged.",
    )
    agent_version: str = Field(description="Version of the agent that collected it.")
    collected_at: AwareDatetime = Field(description="When collection started (UTC).")
    hardware: HardwareInfo | None = Field(None, description="Hardware section.")
    os: OsInfo | None = Field(None, description="Operating system section.")
    network: NetworkInfo | None = Field(None, description="Network section.")
    disks: DisksInfo | None = Field(None, description="Disks and filesystems section.")
    software: SoftwareInventory | None = Field(None, description="Installed software section.")
    users: UsersInfo | None = Field(None, description="Users and administrators section.")
    remote_access: RemoteAccessInfo | None = Field(None, description="Remote access posture.")
    errors: dict[str, str] = Field(
        default_factory=dict, description="Section name -> error that prevented collecting it."
    )


class CollectReport(WireModel):
    """Output of ``breeze-agent collect --json``: the inventory plus one metrics sample."""

    protocol_version: int = Field(PROTOCOL_VERSION, description="Agent protocol version.")
    inventory: Inventory = Field(description="Inventory document.")
    metrics: HeartbeatMetrics | None = Field(None, description="One metrics sample.")
    errors: dict[str, str] = Field(
        default_factory=dict, description="metrics -> error, if sampling failed."
    )
