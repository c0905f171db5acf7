"""A script's version history and the difference between any two versions (server-side
difflib; shown unified or side by side, added/removed lines marked by sign and words, not
only by colour)."""

from __future__ import annotations

import difflib
import json
import uuid
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse

from breeze.core.pagination import ListParams
from breeze.scripts import queries
from breeze.scripts.actions import VERSIONED
from breeze.scripts.models import ScriptVersion
from breeze.web.context import WebCtxDep
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

CONTEXT_LINES = 3
MAX_VERSIONS_SHOWN = 200
FIELD_LABELS = {
    "name": "Name",
    "description": "Description",
    "category": "Category",
    "os_types": "Operating systems",
    "language": "Language",
    "parameters": "Parameters",
    "timeout_seconds": "Timeout (seconds)",
    "run_as": "Run as",
    "output_field": "Output field",
}


@dataclass(frozen=True)
class Row:
    """One line pair of the side-by-side view (a side is None where it has no line)."""

    kind: str  # equal | removed | added | changed
    old_no: int | None
    old: str | None
    new_no: int | None
    new: str | None


@dataclass(frozen=True)
class Line:
    """One line of the unified view."""

    sign: str  # " ", "-", "+"
    old_no: int | None
    new_no: int | None
    text: str


@dataclass(frozen=True)
class Hunk:
    header: str
    rows: list[Row]
    lines: list[Line]


def _hunk(opcodes: list[Any], old: list[str], new: list[str]) -> Hunk:
    rows: list[Row] = []
    lines: list[Line] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            for k in range(i2 - i1):
                rows.append(Row("equal", i1 + k + 1, old[i1 + k], j1 + k + 1, new[j1 + k]))
                lines.append(Line(" ", i1 + k + 1, j1 + k + 1, old[i1 + k]))
            continue
        left = list(range(i1, i2))
        right = list(range(j1, j2))
        for a, b in zip_longest(left, right):
            kind = "removed" if b is None else "added" if a is None else "changed"
            rows.append(
                Row(
                    kind,
                    a + 1 if a is not None else None,
                    old[a] if a is not None else None,
                    b + 1 if b is not None else None,
                    new[b] if b is not None else None,
                )
            )
        lines.extend(Line("-", a + 1, None, old[a]) for a in left)
        lines.extend(Line("+", None, b + 1, new[b]) for b in right)
    first, last = opcodes[0], opcodes[-1]
    header = f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@"
    return Hunk(header, rows, lines)


def content_diff(old_text: str, new_text: str) -> tuple[list[Hunk], int, int]:
    """The content's hunks (with context lines), and how many lines were added/removed."""
    old = old_text.splitlines()
    new = new_text.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    hunks = [_hunk(group, old, new) for group in matcher.get_grouped_opcodes(CONTEXT_LINES)]
    added = sum(j2 - j1 for tag, _, _, j1, j2 in matcher.get_opcodes() if tag != "equal")
    removed = sum(i2 - i1 for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal")
    return hunks, added, removed


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return json.dumps(value, indent=2, sort_keys=True)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def field_changes(old: ScriptVersion, new: ScriptVersion) -> list[tuple[str, str, str]]:
    """Settings that differ between two versions (the content is diffed separately)."""
    return [
        (FIELD_LABELS[name], _shown(getattr(old, name)), _shown(getattr(new, name)))
        for name in VERSIONED
        if name != "content" and getattr(old, name) != getattr(new, name)
    ]


@router.get("/scripts/{script_id}/versions", response_class=HTMLResponse)
async def versions(
    ctx: WebCtxDep,
    script_id: uuid.UUID,
    a: int | None = Query(None, ge=1, le=2_147_483_647, description="Older version"),
    b: int | None = Query(None, ge=1, le=2_147_483_647, description="Newer version"),
    view: str = Query("unified", pattern="^(unified|split)$"),
) -> HTMLResponse:
    async with ctx.read() as s:
        script = await queries.get_script(s, ctx.principal, script_id)
        rows, total = await queries.list_versions(
            s,
            ctx.principal,
            script_id,
            ListParams(page=1, per_page=MAX_VERSIONS_SHOWN, sort=None, q=None, filters={}),
        )
        new_no = b or script.version
        old_no = a or max(1, new_no - 1)
        new = await queries.get_version(s, ctx.principal, script_id, new_no)
        old = await queries.get_version(s, ctx.principal, script_id, old_no)
    hunks, added, removed = content_diff(old.content, new.content)
    return render(
        ctx,
        "scripts/versions.html",
        {
            "script": script,
            "versions": rows,
            "total": total,
            "old": old,
            "new": new,
            "hunks": hunks,
            "added": added,
            "removed": removed,
            "changes": field_changes(old, new),
            "view": view,
        },
    )
