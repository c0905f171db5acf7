"""The migrations build exactly the schema the models describe, on this backend."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from breeze.db.migrate import include_name
from breeze.db.models import Base
from breeze.rbac.catalog import ALL_PERMISSIONS, BUILTIN_ROLES
from breeze.rbac.models import Permission, Role, RolePermission
from tests.support.databases import migrated_database


def _diff(connection: Connection) -> list[Any]:
    ctx = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_name}
    )
    return list(compare_metadata(ctx, Base.metadata))


async def _inspect(url: str) -> tuple[list[Any], set[str], dict[str, set[str]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            perms = {f"{p.resource}:{p.action}" for p in (await conn.execute(select(Permission)))}
            rows = await conn.execute(
                select(Role.name, Permission.resource, Permission.action)
                .join(RolePermission, RolePermission.role_id == Role.id)
                .join(Permission, Permission.id == RolePermission.permission_id)
                .where(Role.is_system)
            )
            roles: dict[str, set[str]] = {}
            for name, resource, action in rows:
                roles.setdefault(name, set()).add(f"{resource}:{action}")
    finally:
        await engine.dispose()
    return diff, perms, roles


def test_models_and_migrations_agree_and_builtin_roles_are_seeded(tmp_path: Path) -> None:
    with migrated_database(tmp_path) as url:
        diff, perms, roles = asyncio.run(_inspect(url))
    assert diff == [], f"models and migrations disagree: {diff}"
    assert perms == set(ALL_PERMISSIONS)
    assert roles == {r.name: set(r.permissions) for r in BUILTIN_ROLES}
    assert set(roles) == {
        "Partner Admin",
        "Partner Technician",
        "Partner Viewer",
        "Org Admin",
        "Org Technician",
        "Org Viewer",
    }
