"""Errors of the commands domain."""

from __future__ import annotations

from breeze.core.errors import Conflict, NotFound


class CommandNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Command not found")


class CommandFinished(Conflict):
    code = "command_finished"

    def __init__(self, status: str) -> None:
        super().__init__(f"The command is already {status}; it can no longer be cancelled")
