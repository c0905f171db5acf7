"""The run dialog every page links to:
``/scripts/run?script_id=&device_ids=a,b&group_ids=&site_ids=&org_ids=`` (and
``from_batch=`` to run a batch again). It posts through the same execute action as
``POST /api/v1/scripts/{id}/execute`` and lands on the batch's live page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Forbidden, NotFound
from breeze.core.pagination import ListParams
from breeze.devices.models import Device
from breeze.devices.queries import list_devices
from breeze.groups.queries import get_group, list_groups
from breeze.ops.gc import collections_deferred
from breeze.scripts import execution, queries
from breeze.scripts.models import Script
from breeze.scripts.parameters import REDACTED
from breeze.scripts.schemas import ExecuteRequest
from breeze.scripts.views_forms import id_list, param_fields, param_values
from breeze.tenancy.queries import get_org, get_site, list_sites, scope_orgs
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

KINDS = {
    "devices": ("device_ids", "Devices"),
    "groups": ("group_ids", "Groups"),
    "sites": ("site_ids", "Sites"),
    "orgs": ("org_ids", "Organizations"),
}
TARGET_FIELDS = tuple(name for name, _ in KINDS.values())
PICKER_LIMIT = 20


@dataclass(frozen=True)
class Target:
    id: uuid.UUID
    label: str
    detail: str = ""


@dataclass
class Targets:
    """The chosen targets by kind, with what the page shows for each."""

    by_kind: dict[str, list[Target]] = field(default_factory=lambda: {k: [] for k in KINDS})
    unseen: int = 0

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.by_kind.values())


def _require_run(ctx: WebCtx) -> None:
    for permission in ("scripts:execute", "devices:execute"):
        if not ctx.can(permission):
            raise Forbidden(f"You do not have the '{permission}' permission here")


def _device_target(d: Device) -> Target:
    return Target(d.id, d.display_name or d.hostname, f"{d.hostname} · {d.os_type} · {d.status}")


async def _one(kind: str, s: AsyncSession, ctx: WebCtx, target_id: uuid.UUID) -> Target | None:
    """A target the user can see, as the page names it (None if not visible)."""
    try:
        if kind == "groups":
            g = await get_group(s, ctx.principal, target_id)
            return Target(g.id, g.name, f"{g.type} group")
        if kind == "sites":
            site = await get_site(s, ctx.principal, target_id)
            return Target(site.id, site.name, "every device of the site")
        if kind == "orgs":
            org = await get_org(s, ctx.principal, target_id)
            return Target(org.id, org.name, "every device of the organization")
    except NotFound:
        return None
    devices = await queries.target_devices(s, ctx.principal, [target_id])
    if not devices:
        return None
    return _device_target(devices[0])


async def _targets(s: AsyncSession, ctx: WebCtx, ids: dict[str, list[uuid.UUID]]) -> Targets:
    chosen = Targets()
    devices = await queries.target_devices(s, ctx.principal, ids.get("devices", []))
    chosen.by_kind["devices"] = [_device_target(d) for d in devices]
    chosen.unseen += len(set(ids.get("devices", []))) - len(devices)
    for kind in ("groups", "sites", "orgs"):
        for target_id in ids.get(kind, []):
            found = await _one(kind, s, ctx, target_id)
            if found is None:
                chosen.unseen += 1
            else:
                chosen.by_kind[kind].append(found)
    return chosen


async def _page(
    ctx: WebCtx,
    *,
    script: Script | None,
    ids: dict[str, list[uuid.UUID]],
    values: dict[str, Any],
    timeout_value: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    scope = ctx.scope
    async with ctx.read() as s:
        choices = await queries.script_choices(
            s, ctx.principal, partner_id=scope.partner_id, org_id=scope.org_id
        )
        targets = await _targets(s, ctx, ids)
    shown_errors = dict(errors or {})
    for name in TARGET_FIELDS:
        if name in shown_errors:
            shown_errors.setdefault("targets", shown_errors[name])
    return render(
        ctx,
        "scripts/run.html",
        {
            "script": script,
            "choices": choices,
            "params": param_fields(script.parameters) if script else [],
            "values": values,
            "targets": targets,
            "kinds": KINDS,
            "timeout": timeout_value,
            "errors": shown_errors,
            "link_ids": {k: ",".join(str(i) for i in v) for k, v in ids.items()},
        },
        status=status,
    )


@router.get("/scripts/run", response_class=HTMLResponse)
async def run_dialog(
    ctx: WebCtxDep,
    script_id: uuid.UUID | None = Query(None),
    device_ids: str | None = Query(None, max_length=20_000),
    group_ids: str | None = Query(None, max_length=20_000),
    site_ids: str | None = Query(None, max_length=20_000),
    org_ids: str | None = Query(None, max_length=20_000),
    from_batch: uuid.UUID | None = Query(None, description="Prefill from an earlier batch"),
) -> HTMLResponse:
    _require_run(ctx)
    ids = {
        "devices": id_list(device_ids, "device_ids"),
        "groups": id_list(group_ids, "group_ids"),
        "sites": id_list(site_ids, "site_ids"),
        "orgs": id_list(org_ids, "org_ids"),
    }
    values: dict[str, Any] = {}
    async with ctx.read() as s:
        if from_batch is not None:
            batch = await queries.get_batch(s, ctx.principal, from_batch)
            script_id = script_id or batch.script_id
            for kind, (name, _) in KINDS.items():
                ids[kind] = ids[kind] or id_list(",".join(batch.targets.get(name) or []), name)
            values = {k: v for k, v in batch.parameters.items() if v != REDACTED}
        script = await queries.get_script(s, ctx.principal, script_id) if script_id else None
    return await _page(ctx, script=script, ids=ids, values=values)


def _submitted_ids(form: FormData) -> dict[str, list[uuid.UUID]]:
    ids: dict[str, list[uuid.UUID]] = {}
    for kind, (name, _) in KINDS.items():
        raw = ",".join(v for v in form.getlist(name) if isinstance(v, str))
        ids[kind] = id_list(raw, name)
    return ids


@router.post("/scripts/run", response_class=HTMLResponse)
async def run_script(ctx: WebCtxDep) -> Response:
    form = await ctx.request.form()
    raw_script = form.get("script_id")
    try:
        script_id = uuid.UUID(str(raw_script))
    except ValueError:
        raise NotFound("Choose a script to run", field="script_id") from None
    async with ctx.read() as s:
        script = await queries.get_script(s, ctx.principal, script_id)
    ids = _submitted_ids(form)
    fields = param_fields(script.parameters)
    shown = {
        p.name: form.get(p.input_name)
        for p in fields
        if not p.secret and isinstance(form.get(p.input_name), str)
    }
    timeout = form.get("timeout_seconds") or None
    try:
        body = parse(
            ExecuteRequest,
            {
                **{name: ids[kind] for kind, (name, _) in KINDS.items()},
                "parameters": param_values(form, fields),
                "timeout_seconds": timeout,
            },
        )
        with collections_deferred():  # as the API's execute: up to 10,000 devices at once
            async with ctx.write() as uow:
                launched = await execution.do_execute_script(
                    uow,
                    actor=ctx.principal,
                    settings=ctx.settings,
                    script_id=script.id,
                    req=body,
                    sockets=ctx.state.sockets,
                )
                batch_id, count = launched.batch.id, len(launched.commands)
                skipped = [f"{d.device_name} ({d.reason})" for d in launched.skipped]
    except BreezeError as exc:
        return await _page(
            ctx,
            script=script,
            ids=ids,
            values=shown,
            timeout_value=timeout,
            errors=field_errors(exc),
            status=exc.status,
        )
    message = f"“{script.name}” started on {count} device{'s' if count != 1 else ''}"
    if skipped:
        message += f"; skipped {len(skipped)}: " + "; ".join(skipped[:3])
    return ctx.redirect(
        f"/scripts/batches/{batch_id}", message, "warning" if skipped else "success"
    )


# -- the target pickers (htmx fragments) -------------------------------------------------------


def _list(q: str, filters: dict[str, list[Any]]) -> ListParams:
    return ListParams(page=1, per_page=PICKER_LIMIT, sort=None, q=q or None, filters=filters)


async def _search(ctx: WebCtx, kind: str, q: str) -> list[Target]:
    scope = ctx.scope
    async with ctx.read() as s:
        if kind == "devices":
            filters: dict[str, list[Any]] = {}
            if scope.site_id:
                filters["site_id"] = [scope.site_id]
            elif scope.org_id:
                filters["org_id"] = [scope.org_id]
            elif scope.partner_id:
                filters["partner_id"] = [scope.partner_id]
            devices, _ = await list_devices(s, ctx.principal, _list(q, filters))
            return [_device_target(d) for d in devices]
        if kind == "groups":
            where: dict[str, list[Any]] = {"org_id": [scope.org_id]} if scope.org_id else {}
            if scope.site_id:
                where["site_id"] = [scope.site_id]
            groups, _ = await list_groups(s, ctx.principal, _list(q, where))
            return [Target(g.id, g.name, f"{g.type} group") for g in groups]
        if kind == "sites":
            site_filters: dict[str, list[Any]] = {"org_id": [scope.org_id]} if scope.org_id else {}
            sites, _ = await list_sites(s, ctx.principal, _list(q, site_filters))
            return [
                Target(x.id, x.name, "every device of the site")
                for x in sites
                if scope.site_id in (None, x.id)
            ]
        orgs = await scope_orgs(s, ctx.principal, scope.partner_id, q)
        return [
            Target(o.id, o.name, "every device of the organization")
            for o in orgs[:PICKER_LIMIT]
            if scope.org_id in (None, o.id)
        ]


@router.get("/scripts/run/targets", response_class=HTMLResponse)
async def search_targets(
    ctx: WebCtxDep,
    kind: str = Query(..., pattern="^(devices|groups|sites|orgs)$"),
    q: str = Query("", max_length=200),
) -> HTMLResponse:
    """Matches for one picker, leaving out what is already chosen."""
    name = KINDS[kind][0]
    chosen = {str(v) for v in ctx.request.query_params.getlist(name)}
    found = [t for t in await _search(ctx, kind, q.strip()) if str(t.id) not in chosen]
    return render(
        ctx,
        "scripts/_target_results.html",
        {"kind": kind, "field": name, "found": found, "q": q.strip()},
    )


@router.get("/scripts/run/target", response_class=HTMLResponse)
async def add_target(
    ctx: WebCtxDep,
    target_id: uuid.UUID = Query(..., alias="id"),
    kind: str = Query(..., pattern="^(devices|groups|sites|orgs)$"),
) -> HTMLResponse:
    """One chosen target (a checked box), replacing its search result."""
    async with ctx.read() as s:
        found = await _one(kind, s, ctx, target_id)
    if found is None:
        raise NotFound(f"{KINDS[kind][1][:-1]} not found")
    return render(
        ctx,
        "scripts/_target_chosen.html",
        {"kind": kind, "field": KINDS[kind][0], "target": found, "added": True},
    )
