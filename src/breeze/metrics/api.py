"""JSON routes of device metrics (thin). The router's lifespan owns the heartbeat buffer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from breeze.auth.deps import CurrentCtx
from breeze.db.base import utcnow
from breeze.devices.queries import get_device
from breeze.metrics import queries
from breeze.metrics.buffer import buffer_lifespan
from breeze.metrics.schemas import HourlyPoint, MetricsOut, RawPoint, Resolution

router = APIRouter(tags=["metrics"], lifespan=buffer_lifespan)


@router.get("/devices/{device_id}/metrics", response_model=MetricsOut)
async def device_metrics(
    ctx: CurrentCtx,
    device_id: uuid.UUID,
    from_: Annotated[
        datetime | None,
        Query(alias="from", description="Start (ISO 8601; default: 24 hours before 'to')"),
    ] = None,
    to: Annotated[datetime | None, Query(description="End (ISO 8601; default: now)")] = None,
    resolution: Annotated[
        Resolution, Query(description="raw: every heartbeat; 1h: hourly min/avg/max")
    ] = "raw",
) -> MetricsOut:
    start, end = queries.window(from_, to, resolution, utcnow())
    async with ctx.read() as s:
        await get_device(s, ctx.principal, device_id)
        points: list[RawPoint] | list[HourlyPoint]
        if resolution == "raw":
            points, truncated = await queries.raw_points(s, device_id, start, end)
        else:
            points, truncated = await queries.hourly_points(s, device_id, start, end)
    return MetricsOut(
        device_id=device_id,
        resolution=resolution,
        from_=start,
        to=end,
        truncated=truncated,
        points=points,
    )
