"""Devices and their inventory (seed 003 Device*, seed 004 epic E1)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from breeze.core.tenancy_columns import Tenancy
from breeze.db.base import Base, IdMixin, TimestampMixin, utcnow
from breeze.db.sql import ascii_lower

ACTIVE = text("decommissioned_at IS NULL")
_KEY_MISSING = text("version_key IS NULL AND version IS NOT NULL")


class Device(IdMixin, TimestampMixin, Base):
    __tablename__ = "devices"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id", site="site_id")
    __table_args__ = (
        # One live device per machine in an organization; re-enrolling replaces the token.
        Index(
            "uq_devices_org_machine_active",
            "org_id",
            "machine_id",
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
        Index("ix_devices_org_status", "org_id", "status"),
        # The console sorts the fleet by last contact (newest first) at 50,000 devices.
        Index("ix_devices_last_seen", "last_seen_at"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), index=True)
    agent_id: Mapped[str] = mapped_column(String(64), unique=True)
    machine_id: Mapped[str] = mapped_column(String(128))
    agent_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    display_name: Mapped[str | None] = mapped_column(String(255), default=None)
    os_type: Mapped[str] = mapped_column(String(20))  # linux | windows | macos
    os_version: Mapped[str] = mapped_column(String(100), default="")
    os_build: Mapped[str] = mapped_column(String(100), default="")
    architecture: Mapped[str] = mapped_column(String(20), default="")
    agent_version: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[str] = mapped_column(String(20), default="online")
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    enrollment_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("enrollment_keys.id"), default=None
    )
    tags: Mapped[list[str]] = mapped_column(default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)  # key -> value
    pending_reboot: Mapped[bool] = mapped_column(default=False)
    last_user: Mapped[str | None] = mapped_column(String(255), default=None)
    uptime_seconds: Mapped[int | None] = mapped_column(BigInteger, default=None)
    heartbeat_interval_seconds: Mapped[int] = mapped_column(default=60)
    config_version: Mapped[int] = mapped_column(default=1)
    primary_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    serial_number: Mapped[str | None] = mapped_column(String(128), default=None)
    decommissioned_at: Mapped[datetime | None] = mapped_column(default=None)


class DeviceHardware(Base):
    __tablename__ = "device_hardware"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    cpu_model: Mapped[str | None] = mapped_column(String(255), default=None)
    cpu_cores: Mapped[int | None] = mapped_column(default=None)
    cpu_threads: Mapped[int | None] = mapped_column(default=None)
    ram_total_mb: Mapped[int | None] = mapped_column(BigInteger, default=None)
    disk_total_gb: Mapped[float | None] = mapped_column(default=None)
    gpu_model: Mapped[str | None] = mapped_column(String(255), default=None)
    serial_number: Mapped[str | None] = mapped_column(String(128), default=None)
    manufacturer: Mapped[str | None] = mapped_column(String(255), default=None)
    model: Mapped[str | None] = mapped_column(String(255), default=None)
    bios_version: Mapped[str | None] = mapped_column(String(255), default=None)
    bios_vendor: Mapped[str | None] = mapped_column(String(255), default=None)
    system_uuid: Mapped[str | None] = mapped_column(String(64), default=None)
    virtualization: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DeviceNetwork(IdMixin, Base):
    __tablename__ = "device_network"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    interface_name: Mapped[str] = mapped_column(String(100))
    mac_address: Mapped[str | None] = mapped_column(String(32), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    ip_type: Mapped[str | None] = mapped_column(String(4), default=None)  # ipv4 | ipv6
    prefix_length: Mapped[int | None] = mapped_column(default=None)
    is_primary: Mapped[bool] = mapped_column(default=False)
    public_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DeviceDisk(IdMixin, Base):
    """A mounted filesystem (physical disks live in the disks inventory section)."""

    __tablename__ = "device_disks"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    mountpoint: Mapped[str] = mapped_column(String(500))
    device: Mapped[str | None] = mapped_column(String(255), default=None)
    fstype: Mapped[str | None] = mapped_column(String(50), default=None)
    total_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    used_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    free_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    percent: Mapped[float | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DeviceSoftware(IdMixin, Base):
    __tablename__ = "device_software"
    __table_args__ = (
        Index("ix_device_software_device_name", "device_id", "name"),
        # Fleet software titles (name -> distinct devices, versions) as an index-only scan.
        Index("ix_device_software_name_device_version", "name", "device_id", "version"),
        # Rows the groups sweep still has to give a version_key (only rows stored before
        # 0004): empty once done, so the sweep's look costs nothing at millions of rows.
        Index(
            "ix_device_software_version_key_missing",
            "id",
            sqlite_where=_KEY_MISSING,
            postgresql_where=_KEY_MISSING,
        ),
    )

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[str | None] = mapped_column(String(255), default=None)
    # The version as a string that sorts like the version (numeric parts zero-padded), so
    # rules can compare versions in SQL on every dialect.
    version_key: Mapped[str | None] = mapped_column(String(400), default=None)
    publisher: Mapped[str | None] = mapped_column(String(255), default=None)
    install_date: Mapped[date | None] = mapped_column(default=None)
    install_location: Mapped[str | None] = mapped_column(String(500), default=None)
    is_system: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str | None] = mapped_column(String(20), default=None)  # dpkg | rpm | ...
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# "Has this device got package X" as the rule engine asks it (ASCII case folded): one
# index probe per device. Without it each "software installed/not_installed" leaf read
# every package row of the device; for the predefined Servers group (nine such leaves)
# each of the sweep's two statements took ~25 s at 5,000 devices.
Index(
    "ix_device_software_device_folded_name",
    DeviceSoftware.device_id,
    ascii_lower(DeviceSoftware.name),
)


class DeviceInventorySection(Base):
    """The last received copy of each inventory section, and its hash for deltas."""

    __tablename__ = "device_inventory_sections"

    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    section: Mapped[str] = mapped_column(String(30), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DeviceChange(IdMixin, Base):
    """One inventory change: software installed/removed/updated, RAM changed, IP changed..."""

    __tablename__ = "device_changes"
    __tenancy__: ClassVar[Tenancy] = Tenancy(partner="partner_id", org="org_id")
    __table_args__ = (
        Index("ix_device_changes_device_time", "device_id", "timestamp"),
        # The dashboard's "recent changes" across every organization in reach.
        Index("ix_device_changes_time", "timestamp"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)
    category: Mapped[str] = mapped_column(String(20))  # software|hardware|network|os|disks|users
    change_type: Mapped[str] = mapped_column(String(20))  # added|removed|updated|changed
    subject: Mapped[str] = mapped_column(String(300))
    old_value: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    new_value: Mapped[dict[str, Any] | None] = mapped_column(default=None)
