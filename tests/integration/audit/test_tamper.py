"""`breeze audit verify` against a real server's database, before and after tampering.

Runs on a server of its own: a broken chain would fail every other test's checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.sql import Executable

from breeze.audit.models import AuditLog
from tests.factories import login, make_site, make_tenant, ok
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer


def _run(server: LiveServer, stmt: Executable) -> Any:
    """Execute one statement on the server's database behind its back (SQLite or
    PostgreSQL, through the same async URL the server uses)."""

    async def go() -> Any:
        engine = create_async_engine(server.database.url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(stmt)
                return result.all() if result.returns_rows else None
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _verify(server: LiveServer) -> tuple[int, str]:
    done = server.cli("audit", "verify", check=False)
    return done.returncode, " ".join((done.stdout + done.stderr).split())  # undo line wrapping


def test_verify_names_a_changed_and_a_deleted_row(
    server_factory: Callable[..., LiveServer],
) -> None:
    lone_server = server_factory()
    with login(lone_server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as admin:
        tenant = make_tenant(admin)
        for _ in range(3):
            make_site(admin, tenant.org["id"])
        before = ok(admin.get("/api/v1/audit/verify"))
    assert before["ok"] is True
    code, out = _verify(lone_server)
    assert code == 0, out
    assert f"audit chain intact: {before['rows_checked']} rows" in out

    # Change one row's details: its own checksum no longer matches.
    [(seq, details)] = _run(
        lone_server,
        select(AuditLog.seq, AuditLog.details).where(
            AuditLog.action == "org.create", AuditLog.resource_id == tenant.org["id"]
        ),
    )
    _run(lone_server, update(AuditLog).where(AuditLog.seq == seq).values(details={"slug": "evil"}))
    code, out = _verify(lone_server)
    assert code == 1, out
    assert f"seq {seq} " in out
    assert "org.create" in out
    assert "checksum mismatch" in out
    with login(lone_server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as admin:
        api_view = ok(admin.get("/api/v1/audit/verify"))
    assert api_view["ok"] is False
    assert api_view["first_bad_seq"] == seq

    # Put it back: the chain is whole again.
    _run(lone_server, update(AuditLog).where(AuditLog.seq == seq).values(details=details))
    code, out = _verify(lone_server)
    assert code == 0, out

    # Delete a later row: the gap is named.
    [(last,)] = _run(lone_server, select(AuditLog.seq).order_by(AuditLog.seq.desc()).limit(1))
    victim = last - 2
    _run(lone_server, delete(AuditLog).where(AuditLog.seq == victim))
    code, out = _verify(lone_server)
    assert code == 1, out
    assert f"seq {victim} missing" in out
    assert f"broken at seq {victim + 1}" in out
