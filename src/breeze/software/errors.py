"""Typed errors of the fleet software inventory."""

from __future__ import annotations

from breeze.core.errors import InvalidInput


class UnsupportedFormat(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(f"cannot export as '{value}'; use csv", field="format")


class ExportTooLarge(InvalidInput):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"the export would hold {count} rows, more than {limit}; narrow it with name, "
            "org_id, site_id or q",
            field="name",
        )
