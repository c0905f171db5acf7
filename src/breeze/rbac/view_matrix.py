"""The permission matrix of the roles pages: resources by actions from the permission
catalog (as stored, so later features' permissions appear), each cell a permission."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from breeze.rbac.catalog import RESOURCES
from breeze.rbac.schemas import PermissionOut

ACTION_ORDER = ("read", "write", "delete", "execute", "export")
ACTION_HELP = {
    "read": "see",
    "write": "create and change",
    "delete": "delete",
    "execute": "run on devices",
    "export": "export",
}
RESOURCE_LABELS = {
    "orgs": "Organizations",
    "api_keys": "API keys",
    "enrollment_keys": "Enrollment keys",
    "remote": "Remote access",
}


@dataclass(frozen=True)
class Cell:
    name: str  # "resource:action"
    label: str  # "Devices: execute" (the checkbox's accessible name)
    checked: bool
    held: bool  # does the signed-in user hold it where the role lives?


@dataclass(frozen=True)
class Row:
    resource: str
    label: str
    cells: list[Cell | None]  # one per column; None where the action does not exist


@dataclass(frozen=True)
class Matrix:
    actions: list[str]
    rows: list[Row]
    readonly: bool
    missing: list[str]  # granted permissions the signed-in user does not hold

    @property
    def limited(self) -> bool:
        """Does the signed-in user lack some permission of the grid?"""
        return any(c is not None and not c.held for row in self.rows for c in row.cells)


def resource_label(resource: str) -> str:
    return RESOURCE_LABELS.get(resource, resource.replace("_", " ").capitalize())


def build_matrix(
    catalog: list[PermissionOut],
    granted: Iterable[str],
    held: frozenset[str] | None,
    *,
    readonly: bool,
) -> Matrix:
    """`held` None: no marking (read-only views)."""
    chosen = set(granted)
    actions = sorted(
        {p.action for p in catalog},
        key=lambda a: (ACTION_ORDER.index(a) if a in ACTION_ORDER else len(ACTION_ORDER), a),
    )
    order = list(RESOURCES)
    resources = sorted(
        {p.resource for p in catalog},
        key=lambda r: (order.index(r) if r in order else len(order), r),
    )
    names = {p.name for p in catalog}
    rows = []
    for resource in resources:
        label = resource_label(resource)
        cells: list[Cell | None] = []
        for action in actions:
            name = f"{resource}:{action}"
            if name not in names:
                cells.append(None)
                continue
            is_held = held is None or name in held
            cells.append(Cell(name, f"{label}: {action}", name in chosen, is_held))
        rows.append(Row(resource, label, cells))
    missing = sorted(chosen - held) if held is not None else []
    return Matrix(actions, rows, readonly, missing)
