"""Heartbeat: metrics sampled on every beat, and the heartbeat body itself."""

from __future__ import annotations

from pydantic import Field

from breeze_protocol._base import WireModel, unit

CustomValue = float | int | str | bool | None


class HeartbeatMetrics(WireModel):
    """Point-in-time metrics (seed: DeviceMetrics)."""

    cpu_percent: float = Field(
        ge=0,
        le=100,
        description="All CPUs, averaged over the sampling interval.",
        json_schema_extra=unit("percent"),
    )
    ram_percent: float = Field(
        ge=0, le=100, description="(total - available) / total.", json_schema_extra=unit("percent")
    )
    ram_used_mb: int = Field(
        ge=0, description="total - available memory.", json_schema_extra=unit("MiB")
    )
    disk_percent: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Use of the system filesystem (/ or C:), like df.",
        json_schema_extra=unit("percent"),
    )
    disk_used_gb: float | None = Field(
        None,
        ge=0,
        description="Used space on the system filesystem.",
        json_schema_extra=unit("GiB"),
    )
    network_in_bytes: int = Field(
        ge=0,
        description="Cumulative bytes received since boot, all non-loopback interfaces.",
        json_schema_extra=unit("bytes"),
    )
    network_out_bytes: int = Field(
        ge=0,
        description="Cumulative bytes sent since boot, all non-loopback interfaces.",
        json_schema_extra=unit("bytes"),
    )
    process_count: int = Field(
        ge=0, description="Processes running.", json_schema_extra=unit("count")
    )
    custom: dict[str, CustomValue] = Field(
        default_factory=dict, description="Extra metrics from scripts or policies."
    )


class HeartbeatRequest(WireModel):
    """Body of ``POST /api/v1/agents/{agent_id}/heartbeat``."""

    status: str = Field("online", description="Agent's own view of itself, normally online.")
    agent_version: str = Field(description="Version of the running agent.")
    metrics: HeartbeatMetrics = Field(description="This beat's sample.")
    pending_reboot: bool = Field(False, description="The OS asks for a reboot (updates).")
    last_user: str | None = Field(None, description="Most recently logged-in user.")
    uptime_seconds: int = Field(
        ge=0, description="Seconds since boot.", json_schema_extra=unit("seconds")
    )
