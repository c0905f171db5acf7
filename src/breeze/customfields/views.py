"""Console pages of custom field definitions (/settings/custom-fields): list, create, edit,
delete. Thin: the forms are parsed with the API's CustomFieldCreate / CustomFieldUpdate and
handed to the same actions as the JSON routes."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from breeze.core.errors import BreezeError, Forbidden, InvalidInput
from breeze.core.pagination import ListParams
from breeze.customfields import actions, queries, values
from breeze.customfields.models import FIELD_TYPES, CustomField
from breeze.customfields.schemas import CustomFieldCreate, CustomFieldUpdate
from breeze.rbac.queries import visible_place
from breeze.tenancy.queries import scope_orgs
from breeze.web.context import WebCtx, WebCtxDep
from breeze.web.forms import field_errors, form_values, parse
from breeze.web.templating import render

router = APIRouter(include_in_schema=False)
BASE = "/settings/custom-fields"
PER_PAGE = 50
TYPE_HELP = {
    "text": "Free text, up to 2000 characters.",
    "number": "A number, such as 42 or 3.5.",
    "boolean": "Yes or no.",
    "date": "A date (YYYY-MM-DD).",
    "select": "One of the options.",
    "multiselect": "Any of the options.",
}
TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}


def _may_write(ctx: WebCtx, partner_id: uuid.UUID, org_id: uuid.UUID) -> bool:
    return ctx.can("devices:write", partner_id=partner_id, org_id=org_id)


def typed_default(raw: Any, field_type: str) -> Any:
    """The default value typed in the form, as JSON of the field's type (a value that does
    not convert is passed on as text, so the action names what is wrong)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip()
    if field_type == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and "." not in text else number
    if field_type == "boolean":
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        return text
    if field_type == "multiselect":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _options(raw: Any) -> list[str]:
    return [line.strip() for line in str(raw or "").splitlines() if line.strip()]


def _shown_default(field: CustomField) -> str:
    value = field.default_value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@router.get(BASE, response_class=HTMLResponse)
async def fields_page(
    ctx: WebCtxDep,
    q: str = Query("", max_length=200),
    type: str = Query("", max_length=20),
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    filters: dict[str, list[Any]] = {}
    if ctx.scope.org_id:
        filters["org_id"] = [ctx.scope.org_id]
    if type in FIELD_TYPES:
        filters["type"] = [type]
    params = ListParams(
        page=page, per_page=PER_PAGE, sort="key", q=q.strip() or None, filters=filters
    )
    async with ctx.read() as s:
        rows, total = await queries.list_fields_in_scope(
            s, ctx.principal, params, partner_id=ctx.scope.partner_id
        )
        orgs = (
            {}
            if ctx.scope.org_id
            else {o.id: o.name for o in await scope_orgs(s, ctx.principal, ctx.scope.partner_id)}
        )
    pages = max(1, -(-total // PER_PAGE))

    def page_url(n: int) -> str | None:
        if n < 1 or n > pages:
            return None
        return ctx.url(BASE, q=q or None, type=type or None, page=n)

    return render(
        ctx,
        "customfields/list.html",
        {
            "rows": rows,
            "total": total,
            "q": q,
            "type": type,
            "types": FIELD_TYPES,
            "org_names": orgs,
            "writable": {r.id for r in rows if _may_write(ctx, r.partner_id, r.org_id)},
            "can_create": ctx.can("devices:write"),
            "defaults": {r.id: _shown_default(r) for r in rows},
            "prev_url": page_url(page - 1),
            "next_url": page_url(page + 1),
        },
    )


def _form(
    ctx: WebCtx,
    *,
    org_name: str,
    values: dict[str, Any],
    field: CustomField | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        ctx,
        "customfields/form.html",
        {
            "field": field,
            "org_name": org_name,
            "values": values,
            "errors": errors or {},
            "types": [(t, f"{t} — {TYPE_HELP[t]}") for t in FIELD_TYPES],
        },
        status=status,
    )


def _refusable(exc: BreezeError) -> bool:
    return exc.status not in (401, 403) and not (exc.status == 404 and not exc.problems)


async def _org(ctx: WebCtx, org_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    async with ctx.read() as s:
        place = await visible_place(
            s, ctx.principal, partner_id=None, org_id=org_id, via=("devices:read",)
        )
    if not _may_write(ctx, place.partner_id, org_id):
        raise Forbidden("You may not define custom fields in this organization")
    return place.partner_id, place.name


@router.get(f"{BASE}/new", response_class=HTMLResponse)
async def new_field(ctx: WebCtxDep, org_id: uuid.UUID | None = None) -> HTMLResponse:
    org_id = org_id or ctx.scope.org_id
    if org_id is None:
        async with ctx.read() as s:
            orgs = await scope_orgs(s, ctx.principal, ctx.scope.partner_id)
        writable = [o for o in orgs if _may_write(ctx, o.partner_id, o.id)]
        if len(writable) != 1:
            return render(ctx, "customfields/choose_org.html", {"orgs": writable})
        org_id = writable[0].id
    _, org_name = await _org(ctx, org_id)
    return _form(ctx, org_name=org_name, values={"org_id": str(org_id), "type": "text"})


@router.post(f"{BASE}/new", response_model=None)
async def create_field(ctx: WebCtxDep, request: Request) -> Response:
    data = form_values(await request.form())
    try:
        org_id = uuid.UUID(str(data.get("org_id")))
    except ValueError:
        raise InvalidInput("Choose the organization", field="org_id") from None
    _, org_name = await _org(ctx, org_id)
    try:
        field_type = str(data.get("type") or "")
        body = {
            "org_id": str(org_id),
            "key": data.get("key") or "",
            "name": data.get("name") or "",
            "description": data.get("description") or "",
            "type": field_type,
            "options": _options(data.get("options")),
            "required": data.get("required") == "true",
            "default_value": typed_default(data.get("default_value"), field_type),
        }
        create = parse(CustomFieldCreate, body)
        async with ctx.write() as uow:
            row = await actions.do_create_field(uow.session, actor=ctx.principal, data=create)
    except BreezeError as exc:
        if not _refusable(exc):
            raise
        return _form(
            ctx, org_name=org_name, values=data, errors=field_errors(exc), status=exc.status
        )
    return ctx.redirect(BASE, f"Custom field '{row.name}' ({row.key}) created")


def _field_values(field: CustomField) -> dict[str, Any]:
    return {
        "org_id": str(field.org_id),
        "key": field.key,
        "name": field.name,
        "description": field.description,
        "type": field.type,
        "options": "\n".join(field.options),
        "required": field.required,
        "default_value": _shown_default(field),
    }


async def _writable_field(ctx: WebCtx, field_id: uuid.UUID) -> tuple[CustomField, str]:
    async with ctx.read() as s:
        field = await queries.get_field(s, ctx.principal, field_id)
    _, org_name = await _org(ctx, field.org_id)
    return field, org_name


@router.get(f"{BASE}/{{field_id}}/edit", response_class=HTMLResponse)
async def edit_field(ctx: WebCtxDep, field_id: uuid.UUID) -> HTMLResponse:
    field, org_name = await _writable_field(ctx, field_id)
    return _form(ctx, org_name=org_name, values=_field_values(field), field=field)


@router.post(f"{BASE}/{{field_id}}/edit", response_model=None)
async def update_field(ctx: WebCtxDep, field_id: uuid.UUID, request: Request) -> Response:
    data = form_values(await request.form())
    field, org_name = await _writable_field(ctx, field_id)
    shown = {**_field_values(field), **data, "required": data.get("required") == "true"}
    try:
        body: dict[str, Any] = {
            "name": data.get("name") or "",
            "description": data.get("description") or "",
            "required": data.get("required") == "true",
            "default_value": typed_default(data.get("default_value"), field.type),
        }
        if field.type in ("select", "multiselect"):
            body["options"] = _options(data.get("options"))
        change = parse(CustomFieldUpdate, body)
        async with ctx.write() as uow:
            row = await actions.do_update_field(
                uow.session, actor=ctx.principal, field_id=field.id, data=change
            )
    except BreezeError as exc:
        if not _refusable(exc):
            raise
        return _form(
            ctx,
            org_name=org_name,
            values=shown,
            field=field,
            errors=field_errors(exc),
            status=exc.status,
        )
    return ctx.redirect(BASE, f"Custom field '{row.name}' saved")


@router.post(f"{BASE}/{{field_id}}/delete", response_model=None)
async def delete_field(ctx: WebCtxDep, field_id: uuid.UUID) -> Response:
    """Delete the definition; its values leave every device (as the API does)."""
    async with ctx.read() as s:
        field = await queries.get_field(s, ctx.principal, field_id)
    async with ctx.write() as uow:
        cleared = await actions.do_delete_field(uow.session, actor=ctx.principal, field_id=field.id)
        values.reevaluate_after_commit(uow, ctx.state.db, cleared)
    held = f"; its value was removed from {len(cleared)} device(s)" if cleared else ""
    return ctx.redirect(BASE, f"Custom field '{field.name}' deleted{held}")
