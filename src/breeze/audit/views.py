"""The console's audit log: filters, pages, row details, and export links to the JSON
API's export (`/api/v1/audit/logs/export`) with exactly the filters shown. Same query
(list_logs through restrict) and the same filter vocabulary as audit/api.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse

from breeze.audit import queries
from breeze.audit.queries import AUDIT_LIST, AuditFilters
from breeze.core.errors import BreezeError, Forbidden
from breeze.core.pagination import ListParams
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)

BASE = "/settings/audit"
EXPORT = "/api/v1/audit/logs/export"
PER_PAGE_CHOICES = (25, 50, 100)
ACTOR_TYPES = [("user", "User"), ("api_key", "API key"), ("agent", "Agent"), ("system", "System")]
RESULTS = [("success", "Success"), ("failure", "Failure"), ("denied", "Denied")]
TEXT_FILTERS = ("actor_email", "actor_type", "resource_type", "result")


@dataclass
class Form:
    """The filter form as typed, and what is wrong with it."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def _day(form: Form, name: str) -> date | None:
    raw = form.values.get(name, "")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        form.errors[name] = "Enter a date as YYYY-MM-DD"
        return None


def _bounds(form: Form) -> tuple[datetime | None, datetime | None]:
    """`from` is the start of its day (UTC); `to` includes its whole day."""
    start, end = _day(form, "from"), _day(form, "to")
    since = datetime.combine(start, time(), UTC) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), UTC) if end else None
    return since, until


def _scope_filters(ctx: WebCtx) -> dict[str, list[Any]]:
    """The audit log has no site: a site scope shows its organization's log."""
    if ctx.scope.org_id:
        return {"org_id": [ctx.scope.org_id]}
    if ctx.scope.partner_id:
        return {"partner_id": [ctx.scope.partner_id]}
    return {}


def _api_query(
    params: ListParams, action: str, since: datetime | None, until: datetime | None
) -> dict[str, str]:
    """The JSON API's query parameters for these filters (the export takes the same)."""
    out: dict[str, str] = {}
    for name, values in params.filters.items():
        out[name] = ",".join(str(v) for v in values)
    if params.q:
        out["q"] = params.q
    if action:
        out["action"] = action
    if since:
        out["from"] = since.isoformat()
    if until:
        out["to"] = until.isoformat()
    return out


@router.get(BASE, response_class=HTMLResponse)
async def audit_page(
    ctx: WebCtxDep,
    q: str = Query("", max_length=200),
    actor_email: str = Query("", max_length=320),
    actor_type: str = Query("", max_length=20),
    action: str = Query("", max_length=2000),
    resource_type: str = Query("", max_length=50),
    result: str = Query("", max_length=10),
    since: str = Query("", alias="from", max_length=10),
    until: str = Query("", alias="to", max_length=10),
    sort: str = Query("-timestamp", max_length=20),
    page: int = Query(1, ge=1, le=100_000),
    per_page: int = Query(50),
) -> HTMLResponse:
    if not ctx.can("audit:read"):
        raise Forbidden("You need the audit:read permission to see the audit log")
    typed = {
        "q": q.strip(),
        "actor_email": actor_email.strip(),
        "actor_type": actor_type.strip(),
        "action": action.strip(),
        "resource_type": resource_type.strip(),
        "result": result.strip(),
        "from": since.strip(),
        "to": until.strip(),
    }
    form = Form(typed)
    per_page = per_page if per_page in PER_PAGE_CHOICES else 50
    sort = sort if sort.lstrip("-") in AUDIT_LIST.sortable else "-timestamp"
    filters = _scope_filters(ctx)
    for name in TEXT_FILTERS:
        if typed[name]:
            filters[name] = [typed[name]]
    params = ListParams(
        page=page, per_page=per_page, sort=sort, q=typed["q"] or None, filters=filters
    )
    since_at, until_at = _bounds(form)
    rows: list[Any] = []
    total = 0
    parsed: AuditFilters | None = None
    if not form.errors:
        try:
            parsed = AuditFilters.parse(typed["action"], since_at, until_at)
        except BreezeError as exc:
            for problem in exc.problems:
                key = problem.field if problem.field in {"from", "to"} else "action"
                form.errors[key] = problem.message
            if not exc.problems:
                form.errors["to"] = exc.detail
    async with ctx.read() as s:
        if parsed is not None:
            rows, total = await queries.list_logs(s, ctx.principal, params, parsed)
        suggestions = {
            name: await queries.recent_values(
                s,
                ctx.principal,
                name,
                partner_id=None if ctx.scope.org_id else ctx.scope.partner_id,
                org_id=ctx.scope.org_id,
            )
            for name in ("actor_email", "action", "resource_type")
        }
    api_query = _api_query(params, typed["action"], since_at, until_at)
    shown = {k: v for k, v in typed.items() if v}
    return render(
        ctx,
        "settings/audit.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "per_page": per_page,
            "sort": sort,
            "form": form,
            "shown": shown,
            "suggestions": suggestions,
            "actor_types": ACTOR_TYPES,
            "results": RESULTS,
            "per_page_choices": PER_PAGE_CHOICES,
            "can_export": ctx.can("audit:export") and not form.errors,
            "export_csv": f"{EXPORT}?{urlencode({**api_query, 'format': 'csv'})}",
            "export_json": f"{EXPORT}?{urlencode({**api_query, 'format': 'json'})}",
            "base": BASE,
        },
        status=422 if form.errors else 200,
    )
