"""Errors of the audit domain."""

from breeze.core.errors import Forbidden, InvalidInput


class BadTimeRange(InvalidInput):
    def __init__(self) -> None:
        super().__init__("'from' must not be after 'to'", field="from")


class BadActionFilter(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(
            f"'{value}' is not an action name or a prefix pattern like 'org.*'", field="action"
        )


class UnsupportedFormat(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(f"cannot export as '{value}'; use csv or json", field="format")


class ExportForbidden(Forbidden):
    def __init__(self) -> None:
        super().__init__("You do not have the 'audit:export' permission")


class VerifyForbidden(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only platform administrators may verify the audit chain")
