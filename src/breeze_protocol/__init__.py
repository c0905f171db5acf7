"""Wire schemas shared by the Breeze server and agent (agent protocol v1)."""

from breeze_protocol._base import FieldSpec, Section, WireModel, field_specs
from breeze_protocol.agent_api import (
    AgentConfig,
    EnrollRequest,
    EnrollResponse,
    HeartbeatResponse,
    OsType,
)
from breeze_protocol.inventory import (
    AdminGroup,
    BlockDevice,
    DisksInfo,
    Filesystem,
    HardwareInfo,
    ListeningSocket,
    LoggedInUser,
    NetworkAddress,
    NetworkInfo,
    NetworkInterface,
    OsInfo,
    RemoteAccessInfo,
    SshPosture,
    UsersInfo,
)
from breeze_protocol.metrics import HeartbeatMetrics, HeartbeatRequest
from breeze_protocol.report import (
    INVENTORY_SECTIONS,
    PROTOCOL_VERSION,
    CollectReport,
    Inventory,
)
from breeze_protocol.software import SoftwareInventory, SoftwareItem

__all__ = [
    "INVENTORY_SECTIONS",
    "PROTOCOL_VERSION",
    "AdminGroup",
    "AgentConfig",
    "BlockDevice",
    "CollectReport",
    "DisksInfo",
    "EnrollRequest",
    "EnrollResponse",
    "FieldSpec",
    "Filesystem",
    "HardwareInfo",
    "HeartbeatMetrics",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "Inventory",
    "ListeningSocket",
    "LoggedInUser",
    "NetworkAddress",
    "NetworkInfo",
    "NetworkInterface",
    "OsInfo",
    "OsType",
    "RemoteAccessInfo",
    "Section",
    "SoftwareInventory",
    "SoftwareItem",
    "SshPosture",
    "UsersInfo",
    "WireModel",
    "field_specs",
]
