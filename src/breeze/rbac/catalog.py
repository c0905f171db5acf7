"""The permission catalog and the built-in roles (seed 003).

A permission is (resource, action), written "resource:action". The catalog is
seeded by the first migration; later migrations add what later features need.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

RESOURCES: dict[str, tuple[str, ...]] = {
    "partners": ("read", "write", "delete"),
    "orgs": ("read", "write", "delete"),
    "sites": ("read", "write", "delete"),
    "users": ("read", "write", "delete"),
    "roles": ("read", "write", "delete"),
    "api_keys": ("read", "write", "delete"),
    "audit": ("read", "export"),
    "devices": ("read", "write", "delete", "execute"),
    "scripts": ("read", "write", "delete", "execute"),
    "alerts": ("read", "write", "delete"),
    "automations": ("read", "write", "delete", "execute"),
    "policies": ("read", "write", "delete"),
    "software": ("read", "write", "delete", "execute"),
    "patches": ("read", "write", "execute"),
    "remote": ("execute",),
    "reports": ("read", "write"),
    "enrollment_keys": ("read", "write", "delete"),
}

ALL_PERMISSIONS: tuple[str, ...] = tuple(
    f"{resource}:{action}" for resource, actions in RESOURCES.items() for action in actions
)

PERMISSION_NS = uuid.UUID("7d8c1a52-5b39-4cc6-9a0b-3b0f3a1e6f10")


def permission_id(permission: str) -> uuid.UUID:
    return uuid.uuid5(PERMISSION_NS, permission)


def describe(permission: str) -> str:
    resource, action = permission.split(":")
    return f"{action.capitalize()} {resource.replace('_', ' ')}"


OPERATIONS = (
    "devices",
    "scripts",
    "alerts",
    "automations",
    "policies",
    "software",
    "patches",
    "reports",
)
READ_ALL_TENANT = ("orgs", "sites", *OPERATIONS)


def _read(resources: tuple[str, ...]) -> set[str]:
    return {f"{r}:read" for r in resources if "read" in RESOURCES[r]}


def _all(resources: tuple[str, ...]) -> set[str]:
    return {f"{r}:{a}" for r in resources for a in RESOURCES[r]}


def _technician() -> set[str]:
    perms = _read(READ_ALL_TENANT) | {"users:read", "enrollment_keys:read"}
    perms |= {p for p in _all(OPERATIONS) if not p.endswith(":delete")}
    perms |= {"remote:execute", "enrollment_keys:write"}
    return perms


def _org_admin() -> set[str]:
    tenant_admin = ("sites", "users", "roles", "api_keys", "enrollment_keys", *OPERATIONS)
    return _all(tenant_admin) | {
        "orgs:read",
        "orgs:write",
        "audit:read",
        "audit:export",
        "remote:execute",
    }


@dataclass(frozen=True)
class BuiltinRole:
    id: uuid.UUID
    name: str
    scope: str
    description: str
    permissions: frozenset[str]


def _role(key: str, name: str, scope: str, description: str, perms: set[str]) -> BuiltinRole:
    unknown = perms - set(ALL_PERMISSIONS)
    assert not unknown, unknown
    return BuiltinRole(
        uuid.uuid5(PERMISSION_NS, f"role:{key}"), name, scope, description, frozenset(perms)
    )


BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    _role(
        "partner_admin",
        "Partner Admin",
        "partner",
        "Full access to the partner and all of its organizations",
        set(ALL_PERMISSIONS) - {"partners:delete"},
    ),
    _role(
        "partner_technician",
        "Partner Technician",
        "partner",
        "Works on devices and runs scripts in the organizations assigned to them",
        _technician() | {"partners:read"},
    ),
    _role(
        "partner_viewer",
        "Partner Viewer",
        "partner",
        "Read-only access to the organizations assigned to them",
        _read(READ_ALL_TENANT) | {"partners:read"},
    ),
    _role(
        "org_admin",
        "Org Admin",
        "organization",
        "Full access within the organization",
        _org_admin(),
    ),
    _role(
        "org_technician",
        "Org Technician",
        "organization",
        "Runs scripts and manages devices in the organization",
        _technician(),
    ),
    _role(
        "org_viewer",
        "Org Viewer",
        "organization",
        "Read-only access to the organization",
        _read(READ_ALL_TENANT),
    ),
)

BUILTIN_BY_KEY = {r.name: r for r in BUILTIN_ROLES}
