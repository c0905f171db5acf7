"""Every write to the script library; each writes its audit row in the same transaction.

Each creation or real change of a script stores the whole script as a new ScriptVersion
and bumps Script.version, so an execution can always say (and re-run) what exactly ran.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.errors import InvalidInput
from breeze.core.patch import apply_changes
from breeze.core.principal import Principal
from breeze.db.base import utcnow
from breeze.rbac.queries import visible_place
from breeze.scripts import queries
from breeze.scripts.collector import check_output_field
from breeze.scripts.errors import SystemScriptReadOnly
from breeze.scripts.models import Script, ScriptVersion
from breeze.scripts.parameters import validate_schema
from breeze.scripts.schemas import ScriptCreate, ScriptUpdate

VERSIONED = (
    "name",
    "description",
    "category",
    "os_types",
    "language",
    "content",
    "parameters",
    "timeout_seconds",
    "run_as",
    "output_field",
)
NOT_NULL = frozenset(VERSIONED) - {"run_as", "output_field"}
# Interpreters that exist on one operating system only.
LANGUAGE_OS = {"cmd": {"windows"}}


def check_language(language: str, os_types: list[str]) -> None:
    allowed = LANGUAGE_OS.get(language)
    if allowed is not None and not set(os_types) <= allowed:
        raise InvalidInput(
            f"'{language}' scripts run on {', '.join(sorted(allowed))} only", field="os_types"
        )


def snapshot(script: Script, *, by: Principal | None) -> ScriptVersion:
    """The script as it is now, as its current version row."""
    return ScriptVersion(
        id=uuid.uuid4(),
        script_id=script.id,
        version=script.version,
        **{name: getattr(script, name) for name in VERSIONED},
        changed_by=by.actor.id if by else None,
        changed_by_name=by.actor.email if by else "system",
        created_at=utcnow(),
    )


def _audit_diff(diff: dict[str, list[Any]]) -> dict[str, Any]:
    """What changed, for the audit row: content is summarised, not copied."""
    out: dict[str, Any] = {}
    for name, (old, new) in diff.items():
        if name == "content":
            out[name] = {"old_length": len(old or ""), "new_length": len(new or "")}
        else:
            out[name] = [old, new]
    return out


async def do_create_script(
    session: AsyncSession, *, actor: Principal, data: ScriptCreate
) -> Script:
    place = await visible_place(
        session, actor, partner_id=data.partner_id, org_id=data.org_id, via=("scripts:read",)
    )
    actor.require("scripts:write", partner_id=place.partner_id, org_id=place.org_id)
    parameters = validate_schema(data.parameters)
    check_language(data.language, list(data.os_types))
    await check_output_field(session, place.org_id, data.output_field)
    script = Script(
        id=uuid.uuid4(),
        partner_id=place.partner_id,
        org_id=place.org_id,
        name=data.name.strip(),
        description=data.description,
        category=data.category.strip(),
        os_types=list(data.os_types),
        language=data.language,
        content=data.content,
        parameters=parameters,
        timeout_seconds=data.timeout_seconds,
        run_as=data.run_as,
        output_field=data.output_field,
        is_system=False,
        version=1,
        created_by=actor.actor.id,
    )
    session.add(script)
    await session.flush()
    session.add(snapshot(script, by=actor))
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="script.create",
        resource_type="script",
        resource_id=script.id,
        resource_name=script.name,
        partner_id=place.partner_id,
        org_id=place.org_id,
        details={"version": 1, "language": script.language, "os_types": script.os_types},
    )
    return script


async def _writable(
    session: AsyncSession, actor: Principal, script_id: uuid.UUID, permission: str
) -> Script:
    script = await queries.get_script(session, actor, script_id, for_update=True)
    if script.is_system:
        raise SystemScriptReadOnly()
    actor.require(permission, partner_id=script.partner_id, org_id=script.org_id)
    return script


async def do_update_script(
    session: AsyncSession, *, actor: Principal, script_id: uuid.UUID, data: ScriptUpdate
) -> Script:
    script = await _writable(session, actor, script_id, "scripts:write")
    changes = data.model_dump(exclude_unset=True)
    if changes.get("parameters") is not None:
        changes["parameters"] = validate_schema(changes["parameters"])
    for name in ("name", "category"):
        if isinstance(changes.get(name), str):
            changes[name] = changes[name].strip()
    diff = apply_changes(script, changes, required=NOT_NULL)
    if not diff:
        return script
    check_language(script.language, script.os_types)
    if "output_field" in diff:
        await check_output_field(session, script.org_id, script.output_field)
    script.version += 1
    script.updated_at = utcnow()
    session.add(snapshot(script, by=actor))
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="script.update",
        resource_type="script",
        resource_id=script.id,
        resource_name=script.name,
        partner_id=script.partner_id,
        org_id=script.org_id,
        details={"version": script.version, "changes": _audit_diff(diff)},
    )
    return script


async def do_delete_script(
    session: AsyncSession, *, actor: Principal, script_id: uuid.UUID
) -> None:
    """Soft delete: the script leaves the library; its versions and executions stay."""
    script = await _writable(session, actor, script_id, "scripts:delete")
    script.deleted_at = utcnow()
    await record(
        session,
        actor=actor.actor,
        action="script.delete",
        resource_type="script",
        resource_id=script.id,
        resource_name=script.name,
        partner_id=script.partner_id,
        org_id=script.org_id,
        details={"version": script.version},
    )
