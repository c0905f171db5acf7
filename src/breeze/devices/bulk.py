"""Bulk actions on devices: one request, one transaction, one audit row, a result per device.

The target (named devices, a filter of the device list, or a group) resolves through
restrict(devices:read); a named device the actor cannot see is reported "not found" and
left alone. Each device is then checked with the permission of the action at its own
place (devices:write, devices:delete, scripts:execute + devices:execute): a device the
actor may see but not change is reported 403 in its result, the others proceed. The
per-device writes use the devices domain's core functions without their own audit rows;
the bulk action writes exactly one row, ``device.bulk.<action>``, with the counts and the
per-device results.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.core.errors import BreezeError, InvalidInput
from breeze.core.pagination import apply_list, order_by
from breeze.core.principal import Principal, restrict
from breeze.core.state import AppState
from breeze.customfields.values import reevaluate_after_commit
from breeze.db.engine import UnitOfWork
from breeze.devices import actions
from breeze.devices.filters import filters_of, group_condition, params_from_filters
from breeze.devices.models import Device
from breeze.devices.queries import DEVICE_LIST, filtered_devices
from breeze.devices.schemas import (
    MAX_BULK_DEVICES,
    MAX_TAGS,
    BulkDeviceResult,
    BulkRequest,
    BulkResult,
    BulkTarget,
)

log = logging.getLogger("breeze.devices")
EXECUTE = ("scripts:execute", "devices:execute")


def _too_many(count: int) -> InvalidInput:
    return InvalidInput(
        f"The target selects more than {MAX_BULK_DEVICES} devices; narrow it "
        f"(one bulk action reaches at most {MAX_BULK_DEVICES})",
        field="target",
    )


async def resolve_target(
    session: AsyncSession, actor: Principal, target: BulkTarget
) -> tuple[list[Device], list[BulkDeviceResult]]:
    """The devices the target reaches (visible to the actor), and the named ones not found."""
    base = restrict(select(Device), actor, "devices:read", Device)
    if target.device_ids is not None:
        wanted = list(dict.fromkeys(target.device_ids))
        rows = {
            d.id: d for d in (await session.execute(base.where(Device.id.in_(wanted)))).scalars()
        }
        missing = [
            BulkDeviceResult(device_id=i, ok=False, error="Device not found", status=404)
            for i in wanted
            if i not in rows
        ]
        return [rows[i] for i in wanted if i in rows], missing
    if target.filter is not None:
        if not any(v not in (None, "", []) for v in target.filter.values()):
            raise InvalidInput(
                "Give at least one filter (an empty filter would select every device)",
                field="target.filter",
            )
        params = params_from_filters(DEVICE_LIST, target.filter, field="target.filter")
        stmt, rest = await filtered_devices(session, actor, params)
        stmt = order_by(apply_list(stmt, rest, DEVICE_LIST), None, DEVICE_LIST, Device.id)
    else:
        assert target.group_id is not None
        try:
            condition = await group_condition(session, actor, [target.group_id])
        except BreezeError as exc:
            for p in exc.problems:
                p.field = "target.group_id"
            raise
        stmt = base.where(condition, Device.decommissioned_at.is_(None)).order_by(
            Device.hostname, Device.id
        )
    found = list((await session.execute(stmt.limit(MAX_BULK_DEVICES + 1))).scalars())
    if len(found) > MAX_BULK_DEVICES:
        raise _too_many(len(found))
    return found, []


def _failure(device: Device, exc: BreezeError) -> BulkDeviceResult:
    return BulkDeviceResult(device_id=device.id, ok=False, error=exc.detail, status=exc.status)


def _check_fields(req: BulkRequest) -> None:
    needs = {"tag": "tags", "untag": "tags", "move_site": "site_id", "run_script": "script_id"}
    name = needs.get(req.action)
    if name is not None and getattr(req, name) is None:
        raise InvalidInput(f"The {req.action} action needs {name}", field=name)
    if req.action == "decommission" and not req.confirm:
        raise InvalidInput(
            "Decommissioning revokes the devices' agent tokens; send confirm: true",
            field="confirm",
        )


async def _change(
    session: AsyncSession, actor: Principal, req: BulkRequest, device: Device
) -> BulkDeviceResult:
    changes: dict[str, Any]
    if req.action in ("tag", "untag"):
        tags = req.tags or []
        if req.action == "tag":
            new = list(dict.fromkeys([*device.tags, *tags]))
            if len(new) > MAX_TAGS:
                raise InvalidInput(f"a device has at most {MAX_TAGS} tags", field="tags")
        else:
            new = [t for t in device.tags if t not in set(tags)]
        changes = {"tags": new}
    else:
        changes = {"site_id": req.site_id}
    await actions.apply_update(session, actor=actor, device=device, changes=changes)
    return BulkDeviceResult(device_id=device.id, ok=True)


async def _run_script(
    uow: UnitOfWork, state: AppState, actor: Principal, req: BulkRequest, devices: list[Device]
) -> tuple[list[BulkDeviceResult], uuid.UUID | None]:
    # The scripts domain launches the batch (commands, pushes, its own record of the run);
    # here only what makes one device ineligible is sorted out first, so one device
    # cannot fail the whole request.
    from breeze.scripts import execution
    from breeze.scripts import queries as scripts
    from breeze.scripts.schemas import ExecuteRequest

    assert req.script_id is not None
    script = await scripts.get_script(uow.session, actor, req.script_id)
    results: list[BulkDeviceResult] = []
    eligible: list[Device] = []
    for d in devices:
        if d.decommissioned_at is not None:
            results.append(
                BulkDeviceResult(device_id=d.id, ok=False, error="decommissioned", status=409)
            )
        elif not all(
            actor.can(p, partner_id=d.partner_id, org_id=d.org_id, site_id=d.site_id)
            for p in EXECUTE
        ):
            results.append(
                BulkDeviceResult(
                    device_id=d.id,
                    ok=False,
                    error="You may not run scripts on this device",
                    status=403,
                )
            )
        elif d.os_type not in script.os_types:
            reason = (
                f"the script runs on {', '.join(script.os_types)}; this device runs {d.os_type}"
            )
            results.append(BulkDeviceResult(device_id=d.id, ok=False, error=reason, status=422))
        else:
            eligible.append(d)
    if not eligible:
        return results, None
    request = ExecuteRequest(
        device_ids=[d.id for d in eligible],
        parameters=req.parameters,
        timeout_seconds=req.timeout_seconds,
    )
    launched = await execution.do_execute_script(
        uow,
        actor=actor,
        settings=state.settings,
        script_id=script.id,
        req=request,
        audit=False,  # the bulk action's one audit row carries the per-device results
        sockets=state.sockets,
    )
    results += [
        BulkDeviceResult(device_id=c["device_id"], ok=True, execution_id=c["id"])
        for c in launched.commands
    ]
    results += [
        BulkDeviceResult(device_id=s.device_id, ok=False, error=s.reason, status=422)
        for s in launched.skipped
    ]
    return results, launched.batch.id


def _scope(devices: Sequence[Device]) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    partners = {d.partner_id for d in devices}
    orgs = {d.org_id for d in devices}
    partner = next(iter(partners)) if len(partners) == 1 else None
    return partner, (next(iter(orgs)) if len(orgs) == 1 and partner else None)


def _target_of(req: BulkRequest) -> dict[str, Any]:
    t = req.target
    if t.device_ids is not None:
        return {"device_ids": [str(i) for i in t.device_ids]}
    if t.filter is not None:
        return {"filter": filters_of(params_from_filters(DEVICE_LIST, t.filter, field="target"))}
    return {"group_id": str(t.group_id)}


async def do_bulk(
    uow: UnitOfWork, *, actor: Principal, state: AppState, req: BulkRequest
) -> BulkResult:
    _check_fields(req)
    session = uow.session
    devices, results = await resolve_target(session, actor, req.target)
    if not devices and not results:
        raise InvalidInput("The target selects no devices", field="target")
    batch_id: uuid.UUID | None = None
    decommissioned: list[Device] = []
    if req.action == "run_script":
        ran, batch_id = await _run_script(uow, state, actor, req, devices)
        by_id = {r.device_id: r for r in ran}
        results += [by_id[d.id] for d in devices if d.id in by_id]
    else:
        for device in devices:
            try:
                if req.action == "decommission":
                    if actions.apply_decommission(actor, device) is not None:
                        decommissioned.append(device)
                    results.append(BulkDeviceResult(device_id=device.id, ok=True))
                else:
                    results.append(await _change(session, actor, req, device))
            except BreezeError as exc:
                results.append(_failure(device, exc))
    succeeded = sum(1 for r in results if r.ok)
    answer = BulkResult(
        action=req.action,
        total=len(results),
        succeeded=succeeded,
        failed=len(results) - succeeded,
        batch_id=batch_id,
        results=results,
    )
    details: dict[str, Any] = {
        "target": _target_of(req),
        "counts": {"total": answer.total, "succeeded": succeeded, "failed": answer.failed},
        "results": [r.model_dump(mode="json", exclude_none=True) for r in results],
    }
    if req.tags is not None:
        details["tags"] = req.tags
    if req.site_id is not None:
        details["site_id"] = str(req.site_id)
    if req.script_id is not None:
        details["script_id"] = str(req.script_id)
    if batch_id is not None:
        details["batch_id"] = str(batch_id)
    partner_id, org_id = _scope(devices)
    await record(
        session,
        actor=actor.actor,
        action=f"device.bulk.{req.action}",
        resource_type="device",
        resource_name=f"{answer.total} device(s)",
        partner_id=partner_id,
        org_id=org_id,
        details=details,
        result="success" if succeeded else "failure",
    )
    actions.close_agent_sockets_after_commit(uow, state.bus, decommissioned)
    if req.action in ("tag", "untag", "move_site"):
        reevaluate_after_commit(uow, state.db, [r.device_id for r in results if r.ok])
    return answer
