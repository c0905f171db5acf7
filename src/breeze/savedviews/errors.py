"""Errors of saved views."""

from __future__ import annotations

from breeze.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class SavedViewNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Saved view not found")


class DuplicateName(Conflict):
    code = "duplicate_name"

    def __init__(self, name: str) -> None:
        super().__init__(f"You already have a view named '{name}'", field="name")


class NoUser(Forbidden):
    def __init__(self) -> None:
        super().__init__("Saved views belong to a user; this credential has none")


class TooManyViews(InvalidInput):
    def __init__(self, limit: int) -> None:
        super().__init__(f"A user has at most {limit} saved views per list", field="name")
