"""The groups every organization has: Windows, Linux, macOS, Servers, Offline > 7 days.

They are dynamic groups with fixed rules, created (idempotently: one of each key per
organization, a unique constraint) by the periodic sweep for every live organization and
lazily when an organization's groups are first listed. They can be renamed, not deleted
and their rules not changed: the sweep would only create them again.

*Servers* is a heuristic from what inventory tells: a Windows device whose product name
says "Server" (Windows Server 2019/2022...), or a Linux device that has reported its
operating system and has none of the common graphical desktop packages (an X or Wayland
server, GNOME, KDE Plasma, Xfce, Cinnamon, MATE, LXQt). macOS devices are workstations.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.principal import SYSTEM_ACTOR
from breeze.groups.evaluation import evaluate_group
from breeze.groups.models import DYNAMIC, DeviceGroup
from breeze.groups.rules import validate_rules
from breeze.tenancy.models import Organization

log = logging.getLogger("breeze.groups")

DESKTOP_PACKAGES = (
    "xserver-xorg-core",
    "xorg-x11-server-xorg",
    "xwayland",
    "gnome-shell",
    "plasma-workspace",
    "xfce4-session",
    "cinnamon",
    "mate-session-manager",
    "lxqt-session",
)


def _os(os_type: str) -> dict[str, Any]:
    return {"all": [{"field": "os_type", "op": "eq", "value": os_type}]}


SERVERS: dict[str, Any] = {
    "any": [
        {
            "all": [
                {"field": "os_type", "op": "eq", "value": "windows"},
                {"field": "os_name", "op": "contains", "value": "server"},
            ]
        },
        {
            "all": [
                {"field": "os_type", "op": "eq", "value": "linux"},
                {"field": "os_name", "op": "exists", "value": True},
                *[
                    {"field": "software", "op": "not_installed", "name": name}
                    for name in DESKTOP_PACKAGES
                ],
            ]
        },
    ]
}

# key -> (name, description, rules)
PREDEFINED: dict[str, tuple[str, str, dict[str, Any]]] = {
    "windows": ("Windows", "Every Windows device", _os("windows")),
    "linux": ("Linux", "Every Linux device", _os("linux")),
    "macos": ("macOS", "Every macOS device", _os("macos")),
    "servers": (
        "Servers",
        "Windows Server, and Linux without a graphical desktop",
        SERVERS,
    ),
    "offline_7d": (
        "Offline more than 7 days",
        "Devices last seen more than 7 days ago",
        {"all": [{"field": "last_seen_at", "op": "older_than_days", "value": 7}]},
    ),
}


async def orgs_missing_predefined(
    session: AsyncSession, org_ids: Iterable[uuid.UUID] | None = None, *, limit: int = 500
) -> list[Organization]:
    """Live organizations (of ``org_ids`` when given) lacking one of the groups."""
    has_all = [
        exists(
            select(1)
            .select_from(DeviceGroup)
            .where(DeviceGroup.org_id == Organization.id, DeviceGroup.predefined == key)
        )
        for key in PREDEFINED
    ]
    stmt = select(Organization).where(Organization.deleted_at.is_(None), ~and_(*has_all))
    if org_ids is not None:
        stmt = stmt.where(Organization.id.in_(list(org_ids)))
    return list((await session.execute(stmt.limit(limit))).scalars())


async def ensure_predefined(session: AsyncSession, org: Organization) -> list[str]:
    """Create the organization's missing predefined groups (and fill them); their keys.

    Runs in a savepoint: another process creating them at the same moment makes this one
    a no-op instead of an error.
    """
    have = set(
        (
            await session.execute(
                select(DeviceGroup.predefined).where(
                    DeviceGroup.org_id == org.id, DeviceGroup.predefined.is_not(None)
                )
            )
        ).scalars()
    )
    names = set(
        (await session.execute(select(DeviceGroup.name).where(DeviceGroup.org_id == org.id)))
        .scalars()
        .all()
    )
    created: list[str] = []
    try:
        async with session.begin_nested():
            for key, (name, description, rules) in PREDEFINED.items():
                if key in have:
                    continue
                # A group of the user's may already carry the name.
                final = name if name not in names else f"{name} (predefined)"
                if final in names:
                    continue
                group = DeviceGroup(
                    id=uuid.uuid4(),
                    partner_id=org.partner_id,
                    org_id=org.id,
                    name=final,
                    description=description,
                    type=DYNAMIC,
                    rules=validate_rules(rules, custom_types={}),
                    predefined=key,
                )
                session.add(group)
                await session.flush()
                await evaluate_group(session, group)
                created.append(key)
            if created:
                await record(
                    session,
                    actor=SYSTEM_ACTOR,
                    action="device_group.predefined",
                    resource_type="organization",
                    resource_id=org.id,
                    resource_name=org.name,
                    partner_id=org.partner_id,
                    org_id=org.id,
                    details={"created": created},
                )
    except IntegrityError:
        log.info("predefined groups of %s were created concurrently", org.id)
        return []
    return created
