"""What the console's membership forms (invite a user, add or change a membership) offer
and how their fields become the API's `MembershipSet`: no rules of their own, only
choices filtered by what the signed-in user may do (the actions check again)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import InvalidInput
from breeze.core.pagination import MAX_PER_PAGE, ListParams
from breeze.rbac.queries import Place, assignable_roles, visible_place
from breeze.tenancy.queries import list_orgs, list_sites, scope_partners
from breeze.web.context import WebCtx

MEMBERSHIP_LISTS = ("org_ids", "site_ids")


@dataclass(frozen=True)
class PlaceChoice:
    key: str  # "partner:<id>" or "org:<id>"
    label: str
    partner_id: uuid.UUID
    org_id: uuid.UUID | None


@dataclass
class MembershipChoices:
    """The role and reach options of a membership at one place."""

    place: Place | None
    key: str = ""
    roles: list[tuple[str, str]] = field(default_factory=list)  # (id, "Name — description")
    orgs: list[tuple[str, str]] = field(default_factory=list)  # partner places
    sites: list[tuple[str, str]] = field(default_factory=list)  # organization places


def _params(**filters: list[Any]) -> ListParams:
    return ListParams(page=1, per_page=MAX_PER_PAGE, sort=None, q=None, filters=dict(filters))


def place_key(partner_id: uuid.UUID, org_id: uuid.UUID | None) -> str:
    return f"org:{org_id}" if org_id else f"partner:{partner_id}"


def parse_place_key(key: str | None) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(partner_id, org_id) of a place field; 422 naming the field when malformed."""
    kind, _, raw = (key or "").partition(":")
    try:
        value = uuid.UUID(raw)
    except ValueError:
        raise InvalidInput("Choose where the user gets access", field="place") from None
    if kind == "partner":
        return value, None
    if kind == "org":
        return None, value
    raise InvalidInput("Choose where the user gets access", field="place")


async def place_choices(session: AsyncSession, ctx: WebCtx, permission: str) -> list[PlaceChoice]:
    """Partners and organizations in the current scope where the user holds `permission`."""
    p = ctx.principal
    scope = ctx.scope
    out: list[PlaceChoice] = []
    partners = await scope_partners(session, p)
    if scope.partner_id is not None:
        partners = [x for x in partners if x.id == scope.partner_id]
    if scope.org_id is None:
        for partner in partners:
            if p.can(permission, partner_id=partner.id):
                label = f"{partner.name} (partner level)"
                out.append(PlaceChoice(place_key(partner.id, None), label, partner.id, None))
    filters: dict[str, list[Any]] = {}
    if scope.partner_id is not None:
        filters["partner_id"] = [scope.partner_id]
    orgs, _ = await list_orgs(session, p, _params(**filters))
    for org in orgs:
        if scope.org_id is not None and org.id != scope.org_id:
            continue
        if p.can(permission, partner_id=org.partner_id, org_id=org.id):
            out.append(
                PlaceChoice(place_key(org.partner_id, org.id), org.name, org.partner_id, org.id)
            )
    return out


async def membership_choices(
    session: AsyncSession, ctx: WebCtx, key: str | None
) -> MembershipChoices:
    """Roles the user may hand out at the chosen place, and its organizations or sites."""
    if not key:
        return MembershipChoices(None)
    partner_id, org_id = parse_place_key(key)
    place = await visible_place(
        session, ctx.principal, partner_id=partner_id, org_id=org_id, via=("users:read",)
    )
    roles = [
        (str(role.id), f"{role.name} — {role.description}" if role.description else role.name)
        for role, _ in await assignable_roles(session, ctx.principal, place)
    ]
    choices = MembershipChoices(place, key, roles)
    if place.org_id is None:
        orgs, _ = await list_orgs(session, ctx.principal, _params(partner_id=[place.partner_id]))
        choices.orgs = [(str(o.id), o.name) for o in orgs]
    else:
        sites, _ = await list_sites(session, ctx.principal, _params(), org_id=place.org_id)
        choices.sites = [(str(s.id), s.name) for s in sites]
    return choices


def membership_body(values: dict[str, Any]) -> dict[str, Any]:
    """The MembershipSet fields of a submitted membership form."""
    partner_id, org_id = parse_place_key(values.get("place"))
    body: dict[str, Any] = {"role_id": values.get("role_id")}
    if org_id is None:
        body["partner_id"] = partner_id
        access = values.get("org_access") or "all"
        body["org_access"] = access
        if access == "selected":
            body["org_ids"] = values.get("org_ids", [])
    else:
        body["org_id"] = org_id
        if values.get("site_access") == "selected":
            body["site_ids"] = values.get("site_ids", [])
    return body


def membership_errors(errors: dict[str, str]) -> dict[str, str]:
    """Errors about partner_id / org_id belong to the place field of the form."""
    out = dict(errors)
    for name in ("partner_id", "org_id"):
        if name in out:
            out.setdefault("place", out.pop(name))
    return out
