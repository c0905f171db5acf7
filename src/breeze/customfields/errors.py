"""Errors of the custom fields domain."""

from __future__ import annotations

from breeze.core.errors import Conflict, InvalidInput, NotFound


class CustomFieldNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Custom field not found")


class DuplicateKey(Conflict):
    code = "duplicate_key"

    def __init__(self, key: str) -> None:
        super().__init__(f"The organization already has a custom field '{key}'", field="key")


class TooManyFields(InvalidInput):
    def __init__(self, limit: int) -> None:
        super().__init__(f"An organization has at most {limit} custom fields", field="org_id")


class OptionInUse(Conflict):
    code = "option_in_use"

    def __init__(self, option: str, devices: int) -> None:
        super().__init__(
            f"The option '{option}' is the value of {devices} device(s); change those first",
            field="options",
        )
