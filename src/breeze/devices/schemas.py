"""Request and response bodies of the device console API and the inventory answer."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_TAGS = 50
MAX_TAG_LENGTH = 50


def _tag(value: str) -> str:
    tag = " ".join(value.split()).lower()
    if not tag:
        raise ValueError("a tag cannot be empty")
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f"a tag has at most {MAX_TAG_LENGTH} characters")
    if "," in tag:
        raise ValueError("a tag cannot contain a comma (commas separate tags in filters)")
    if not tag.isprintable():
        raise ValueError("a tag cannot contain control characters")
    return tag


Tag = Annotated[str, Field(max_length=200), AfterValidator(_tag)]


def normalise_tags(tags: list[str]) -> list[str]:
    """Lower case, whitespace collapsed, duplicates dropped (first occurrence kept)."""
    return list(dict.fromkeys(tags))


class DeviceUpdate(BaseModel):
    """PATCH body: only the fields present change. ``display_name: null`` clears it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    display_name: str | None = Field(None, min_length=1, max_length=255)
    site_id: uuid.UUID | None = Field(None, description="A live site of the device's organization.")
    tags: list[Tag] | None = Field(
        None,
        max_length=MAX_TAGS,
        description=f"1-{MAX_TAG_LENGTH} characters each, at most {MAX_TAGS}; stored lower "
        "case with whitespace collapsed and duplicates removed.",
    )

    @field_validator("tags")
    @classmethod
    def _dedupe(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else normalise_tags(tags)


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID
    agent_id: str
    hostname: str
    display_name: str | None
    os_type: str
    os_version: str
    os_build: str
    architecture: str
    agent_version: str
    status: str
    last_seen_at: datetime | None
    enrolled_at: datetime
    tags: list[str]
    pending_reboot: bool
    last_user: str | None
    uptime_seconds: int | None
    primary_ip: str | None
    serial_number: str | None
    decommissioned_at: datetime | None
    created_at: datetime
    updated_at: datetime


class HardwareSummary(BaseModel):
    cpu_model: str | None
    cpu_cores: int | None
    cpu_threads: int | None
    ram_total_mb: int | None
    disk_total_gb: float | None
    manufacturer: str | None
    model: str | None
    serial_number: str | None
    virtualization: str | None


class OsSummary(BaseModel):
    name: str | None = None
    version: str | None = None
    build: str | None = None
    kernel: str | None = None
    boot_time: datetime | None = None
    timezone: str | None = None
    domain: str | None = None
    workgroup: str | None = None
    fqdn: str | None = None


class InventoryStatus(BaseModel):
    """When each section was last received, and what the agent could not collect."""

    last_inventory_at: datetime | None = None
    agent_version: str | None = None
    sections: dict[str, datetime] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)


class DeviceDetail(DeviceOut):
    hardware: HardwareSummary | None
    os: OsSummary | None
    inventory: InventoryStatus


class HardwareOut(BaseModel):
    """The hardware row, plus what only the raw section holds. All null before the
    first inventory (``updated_at`` null)."""

    cpu_model: str | None = None
    cpu_cores: int | None = None
    cpu_threads: int | None = None
    ram_total_mb: int | None = None
    disk_total_gb: float | None = None
    gpu_model: str | None = None
    serial_number: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    bios_version: str | None = None
    bios_vendor: str | None = None
    system_uuid: str | None = None
    virtualization: str | None = None
    architecture: str | None = None
    is_virtual: bool | None = None
    virtualization_type: str | None = None
    unavailable: dict[str, str] = Field(default_factory=dict)
    updated_at: datetime | None = None


class SoftwareOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    version: str | None
    publisher: str | None
    install_date: date | None
    install_location: str | None
    is_system: bool
    source: str | None
    updated_at: datetime


class AddressOut(BaseModel):
    ip_address: str
    ip_type: str | None
    prefix_length: int | None


class InterfaceOut(BaseModel):
    interface_name: str
    mac_address: str | None
    is_primary: bool
    is_up: bool | None = None
    is_loopback: bool | None = None
    link_type: str | None = None
    mtu: int | None = None
    addresses: list[AddressOut]


class NetworkOut(BaseModel):
    primary_ip: str | None
    primary_interface: str | None = None
    default_gateway_ipv4: str | None = None
    default_gateway_ipv6: str | None = None
    dns_servers: list[str] = Field(default_factory=list)
    dns_search: list[str] = Field(default_factory=list)
    interfaces: list[InterfaceOut]
    updated_at: datetime | None = None


class FilesystemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    mountpoint: str
    device: str | None
    fstype: str | None
    total_bytes: int | None
    used_bytes: int | None
    free_bytes: int | None
    percent: float | None


class DisksOut(BaseModel):
    filesystems: list[FilesystemOut]
    physical_disks: list[dict[str, Any]] = Field(
        default_factory=list, description="Block devices as the agent reported them."
    )
    updated_at: datetime | None = None


class ChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    device_id: uuid.UUID
    timestamp: datetime
    category: str
    change_type: str
    subject: str
    old_value: dict[str, Any] | None
    new_value: dict[str, Any] | None


class InventoryAccepted(BaseModel):
    """Answer of ``PUT /api/v1/agents/{agent_id}/inventory``."""

    accepted: bool = True
    changes: int = Field(description="History rows this document added (0 when nothing changed).")


class TagCount(BaseModel):
    tag: str
    count: int = Field(description="Live devices carrying the tag")


MAX_BULK_DEVICES = 10_000
BulkAction = Literal["tag", "untag", "move_site", "run_script", "decommission"]


class BulkTarget(BaseModel):
    """Exactly one of: named devices, a filter (the device list's parameters), a group."""

    model_config = ConfigDict(extra="forbid")

    device_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=MAX_BULK_DEVICES)
    filter: dict[str, Any] | None = Field(
        None,
        description="The query parameters of GET /api/v1/devices as an object, e.g. "
        '{"org_id": "...", "tag": "web", "custom_field": "env:prod"}; at least one',
    )
    group_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one(self) -> BulkTarget:
        given = [n for n in ("device_ids", "filter", "group_id") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of device_ids, filter and group_id")
        return self


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: BulkAction
    target: BulkTarget
    tags: list[Tag] | None = Field(
        None, min_length=1, max_length=MAX_TAGS, description="tag / untag: the tags"
    )
    site_id: uuid.UUID | None = Field(None, description="move_site: a site of the devices' org")
    script_id: uuid.UUID | None = Field(None, description="run_script: the script")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="run_script: parameter values by name"
    )
    timeout_seconds: int | None = Field(None, ge=1, le=86_400, description="run_script")
    confirm: bool = Field(False, description="decommission: must be true")

    @field_validator("tags")
    @classmethod
    def _dedupe(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else normalise_tags(tags)


class BulkDeviceResult(BaseModel):
    device_id: uuid.UUID
    ok: bool
    error: str | None = Field(None, description="Why this device was not changed")
    status: int | None = Field(None, description="The HTTP status the error would have alone")
    execution_id: uuid.UUID | None = Field(None, description="run_script: the execution")


class BulkResult(BaseModel):
    action: str
    total: int
    succeeded: int
    failed: int
    batch_id: uuid.UUID | None = Field(None, description="run_script: the script batch")
    results: list[BulkDeviceResult]
