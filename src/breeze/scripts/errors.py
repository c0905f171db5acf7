"""Errors of the script library and script executions."""

from __future__ import annotations

from collections.abc import Iterable

from breeze.core.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound


class ScriptNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Script not found")


class ScriptVersionNotFound(NotFound):
    def __init__(self, version: int) -> None:
        super().__init__(f"The script has no version {version}")


class ExecutionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Script execution not found")


class BatchNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Script batch not found")


class SystemScriptReadOnly(Forbidden):
    code = "system_script_read_only"

    def __init__(self) -> None:
        super().__init__(
            "Built-in system scripts cannot be changed or deleted; "
            "create a script of your own with its content instead"
        )


class ScriptDeleted(Conflict):
    code = "script_deleted"

    def __init__(self) -> None:
        super().__init__("The script of this execution has been deleted; it cannot run again")


class NoTargets(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "Name at least one target: device_ids, site_ids, org_ids or group_ids",
            field="device_ids",
        )


class TooManyDevices(InvalidInput):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"The targets resolve to {count} devices; one execution may reach at most {limit}",
            field="device_ids",
        )


class NothingToRun(InvalidInput):
    def __init__(self, reasons: Iterable[str]) -> None:
        listed = "; ".join(sorted(set(reasons))[:5])
        detail = "None of the targeted devices can run this script"
        super().__init__(f"{detail}: {listed}" if listed else detail, field="device_ids")


class SecretsRequired(InvalidInput):
    """A rerun needs the secret parameters again: their values were not kept."""

    def __init__(self, names: Iterable[str]) -> None:
        wanted = sorted(names)
        super().__init__(
            f"Give the secret parameter(s) again: {', '.join(wanted)}",
            problems=[
                FieldProblem(f"parameters.{n}", "secret values are not kept; give it again")
                for n in wanted
            ],
        )
