"""Errors of the device groups domain."""

from __future__ import annotations

from breeze.core.errors import Conflict, NotFound


class GroupNotFound(NotFound):
    def __init__(self, field: str | None = None) -> None:
        super().__init__("Device group not found", field=field)


class GroupNameTaken(Conflict):
    code = "group_name_taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"The organization already has a group named '{name}'", field="name")


class GroupHasChildren(Conflict):
    code = "group_has_children"

    def __init__(self, count: int) -> None:
        super().__init__(
            f"The group has {count} child group(s); delete or move them first",
            field="group_id",
        )


class GroupReferenced(Conflict):
    code = "group_referenced"

    def __init__(self, names: list[str]) -> None:
        listed = ", ".join(sorted(names)[:5])
        super().__init__(
            f"The rules of other groups name this group ({listed}); change them first",
            field="group_id",
        )


class PredefinedGroup(Conflict):
    code = "predefined_group"

    def __init__(self, what: str) -> None:
        super().__init__(
            f"Predefined groups cannot {what}; they exist in every organization "
            "(create a group of your own instead)",
            field="group_id",
        )


class DynamicMembership(Conflict):
    code = "dynamic_group"

    def __init__(self) -> None:
        super().__init__(
            "The members of a dynamic group follow its rules; change the rules instead",
            field="device_ids",
        )
