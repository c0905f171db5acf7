"""Errors of roles and permissions."""

from __future__ import annotations

from collections.abc import Iterable

from breeze.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class RoleNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Role not found")


class BuiltinRoleImmutable(Forbidden):
    def __init__(self) -> None:
        super().__init__("Built-in roles cannot be changed")


class RoleNameTaken(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"A role named '{name}' already exists here", field="name")


class RoleInUse(Conflict):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"The role is assigned to {count} membership(s); assign them another role first"
        )


class UnknownPermissions(InvalidInput):
    def __init__(self, names: Iterable[str]) -> None:
        listed = ", ".join(sorted(names))
        super().__init__(f"Unknown permission(s): {listed}", field="permissions")


class PermissionsNotHeld(Forbidden):
    """Delegation guard: nobody grants what they do not hold themselves."""

    def __init__(self, names: Iterable[str]) -> None:
        listed = ", ".join(sorted(names))
        super().__init__(f"You cannot grant permissions you do not hold here: {listed}")
