"""Raw metric samples (partitioned by day on PostgreSQL) and hourly rollups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from breeze.db.base import Base


class DeviceMetric(Base):
    """One heartbeat's sample. No foreign key: this is the hot insert path, and devices
    are never hard-deleted (decommissioned devices keep their history)."""

    __tablename__ = "device_metrics"
    __table_args__ = {"postgresql_partition_by": "RANGE (timestamp)"}

    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(primary_key=True)
    cpu_percent: Mapped[float | None] = mapped_column(default=None)
    ram_percent: Mapped[float | None] = mapped_column(default=None)
    ram_used_mb: Mapped[int | None] = mapped_column(BigInteger, default=None)
    disk_percent: Mapped[float | None] = mapped_column(default=None)
    disk_used_gb: Mapped[float | None] = mapped_column(default=None)
    network_in_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    network_out_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    process_count: Mapped[int | None] = mapped_column(default=None)
    custom: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class DeviceMetricHourly(Base):
    """min/avg/max per hour; network counters keep the hour's largest cumulative value."""

    __tablename__ = "device_metrics_hourly"

    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    samples: Mapped[int] = mapped_column(default=0)
    cpu_min: Mapped[float | None] = mapped_column(default=None)
    cpu_avg: Mapped[float | None] = mapped_column(default=None)
    cpu_max: Mapped[float | None] = mapped_column(default=None)
    ram_min: Mapped[float | None] = mapped_column(default=None)
    ram_avg: Mapped[float | None] = mapped_column(default=None)
    ram_max: Mapped[float | None] = mapped_column(default=None)
    disk_min: Mapped[float | None] = mapped_column(default=None)
    disk_avg: Mapped[float | None] = mapped_column(default=None)
    disk_max: Mapped[float | None] = mapped_column(default=None)
    ram_used_mb_avg: Mapped[float | None] = mapped_column(default=None)
    disk_used_gb_avg: Mapped[float | None] = mapped_column(default=None)
    network_in_bytes_max: Mapped[int | None] = mapped_column(BigInteger, default=None)
    network_out_bytes_max: Mapped[int | None] = mapped_column(BigInteger, default=None)
    process_count_avg: Mapped[float | None] = mapped_column(default=None)
