"""The console's scope (partner → organization → site), carried in the URL's query
string (`?partner=…&org=…&site=…`) so a link shows the same slice to whoever opens it.

A scope the principal cannot see answers 404, like any other tenant data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from breeze.core.errors import BreezeError
from breeze.core.principal import Principal
from breeze.tenancy.queries import get_org, get_partner, get_site

SCOPE_PARAMS = ("partner", "org", "site")


@dataclass(frozen=True)
class Scope:
    partner_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    partner_name: str | None = None
    org_name: str | None = None
    site_name: str | None = None

    @property
    def params(self) -> dict[str, str]:
        """The query parameters that carry this scope (only the narrowest needed)."""
        # The narrowest level implies its parents (scope_of looks them up).
        if self.site_id:
            return {"site": str(self.site_id)}
        if self.org_id:
            return {"org": str(self.org_id)}
        if self.partner_id:
            return {"partner": str(self.partner_id)}
        out: dict[str, str] = {}
        return out

    @property
    def query(self) -> str:
        return urlencode(self.params)

    @property
    def label(self) -> str:
        return self.site_name or self.org_name or self.partner_name or "All organizations"

    def url(self, path: str, **params: object) -> str:
        """`path` with this scope and `params` (None values dropped) in its query string."""
        merged: dict[str, str] = dict(self.params)
        for key, value in params.items():
            if value is None or value == "":
                merged.pop(key, None)
            else:
                merged[key] = str(value)
        if not merged:
            return path
        return f"{path}{'&' if '?' in path else '?'}{urlencode(merged)}"


def _uuid_param(request: Request, name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise BreezeError(f"The address has an invalid {name} ({raw[:40]!r})") from exc


async def scope_of(request: Request, session: AsyncSession, principal: Principal) -> Scope:
    """The scope in the request's URL, checked against what the principal may see."""
    partner_id = _uuid_param(request, "partner")
    org_id = _uuid_param(request, "org")
    site_id = _uuid_param(request, "site")
    partner_name = org_name = site_name = None
    if site_id is not None:
        site = await get_site(session, principal, site_id)
        site_name, org_id = site.name, site.org_id
    if org_id is not None:
        org = await get_org(session, principal, org_id)
        org_name, partner_id = org.name, org.partner_id
    if partner_id is not None:
        if org_id is None:
            partner_name = (await get_partner(session, principal, partner_id)).name
        else:
            partner_name = await _partner_name(session, principal, partner_id)
    return Scope(partner_id, org_id, site_id, partner_name, org_name, site_name)


async def _partner_name(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID
) -> str | None:
    """An org user may not read its partner; the scope then simply has no partner label."""
    if not principal.can("partners:read", partner_id=partner_id):
        return None
    return (await get_partner(session, principal, partner_id)).name
