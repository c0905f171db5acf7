"""Helpers of the agent gateway tests: keys, enrollment, heartbeats, and direct
database reads for what no API shows (token hashes, audit rows, device status)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

import breeze.db.models  # noqa: F401  (every model known: foreign keys get their types)
from breeze.audit.models import AuditLog
from breeze.devices.models import Device
from tests.factories import ok, unique
from tests.support.server import LiveServer


def make_enrollment_key(api: httpx.Client, org_id: str, **fields: Any) -> dict[str, Any]:
    body = {"name": unique("key"), "org_id": org_id, **fields}
    return ok(api.post("/api/v1/enrollment-keys", json=body), 201)


def enroll_body(key: str, machine_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "enrollment_key": key,
        "machine_id": machine_id or uuid.uuid4().hex,
        "hostname": unique("host"),
        "os_type": "linux",
        "os_version": "12 (bookworm)",
        "os_build": "6.1.0",
        "architecture": "x86_64",
        "agent_version": "0.1.0",
        **fields,
    }


def enroll(base_url: str, key: str, **fields: Any) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=30) as anon:
        return anon.post("/api/v1/agents/enroll", json=enroll_body(key, **fields))


def metrics(**fields: Any) -> dict[str, Any]:
    return {
        "cpu_percent": 12.5,
        "ram_percent": 40.0,
        "ram_used_mb": 2048,
        "disk_percent": 55.5,
        "disk_used_gb": 120.25,
        "network_in_bytes": 1_000_000,
        "network_out_bytes": 500_000,
        "process_count": 250,
        "custom": {},
        **fields,
    }


def beat_body(**fields: Any) -> dict[str, Any]:
    return {
        "status": "online",
        "agent_version": "0.1.0",
        "metrics": metrics(),
        "pending_reboot": False,
        "last_user": "alice",
        "uptime_seconds": 3600,
        **fields,
    }


def agent_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def beat(base_url: str, agent: dict[str, Any], **fields: Any) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        return c.post(
            f"/api/v1/agents/{agent['agent_id']}/heartbeat",
            json=beat_body(**fields),
            headers=agent_headers(agent["auth_token"]),
        )


def raw_points(api: httpx.Client, device_id: str, **params: str) -> list[dict[str, Any]]:
    body = ok(api.get(f"/api/v1/devices/{device_id}/metrics", params=params))
    return list(body["points"])


def wait_for_points(
    api: httpx.Client, device_id: str, count: int, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Points of a device once at least `count` are stored (the flush is asynchronous)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        points = raw_points(api, device_id)
        if len(points) >= count or time.monotonic() > deadline:
            return points
        time.sleep(0.2)


async def query(server: LiveServer, stmt: Any) -> list[Any]:
    engine = create_async_engine(server.database.url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(stmt)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


def run(server: LiveServer, stmt: Any) -> list[Any]:
    return asyncio.run(query(server, stmt))


def device_rows(server: LiveServer, org_id: str) -> list[Any]:
    """Device rows of an organization (columns by name: row.status, row.agent_token_hash)."""
    stmt = select(Device.__table__).where(Device.__table__.c.org_id == uuid.UUID(org_id))
    return run(server, stmt)


async def device_status(server: LiveServer, device_id: str) -> str:
    rows = await query(server, select(Device.status).where(Device.id == uuid.UUID(device_id)))
    return str(rows[0][0])


def audit_of(server: LiveServer, resource_id: str) -> list[Any]:
    stmt = (
        select(
            AuditLog.action,
            AuditLog.actor_type,
            AuditLog.partner_id,
            AuditLog.org_id,
            AuditLog.details,
        )
        .where(AuditLog.resource_id == resource_id)
        .order_by(AuditLog.seq)
    )
    return run(server, stmt)
