"""Response bodies of the metrics API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Resolution = Literal["raw", "1h"]


class RawPoint(BaseModel):
    """One heartbeat's sample."""

    model_config = ConfigDict(from_attributes=True)

    timestamp: datetime
    cpu_percent: float | None
    ram_percent: float | None
    ram_used_mb: int | None
    disk_percent: float | None
    disk_used_gb: float | None
    network_in_bytes: int | None = Field(description="Cumulative since boot")
    network_out_bytes: int | None = Field(description="Cumulative since boot")
    process_count: int | None
    custom: dict[str, Any] = Field(default_factory=dict)


class HourlyPoint(BaseModel):
    """One hour of samples: min / avg / max; network counters keep the hour's largest value."""

    timestamp: datetime = Field(description="Start of the hour (UTC)")
    samples: int
    cpu_min: float | None
    cpu_avg: float | None
    cpu_max: float | None
    ram_min: float | None
    ram_avg: float | None
    ram_max: float | None
    disk_min: float | None
    disk_avg: float | None
    disk_max: float | None
    ram_used_mb_avg: float | None
    disk_used_gb_avg: float | None
    network_in_bytes_max: int | None
    network_out_bytes_max: int | None
    process_count_avg: float | None


class MetricsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    device_id: uuid.UUID
    resolution: Resolution
    from_: datetime = Field(alias="from", description="Start of the window (inclusive)")
    to: datetime = Field(description="End of the window (exclusive)")
    truncated: bool = Field(description="True when the window held more points than returned")
    points: list[RawPoint] | list[HourlyPoint]
