"""Who is asking, what they may do where, and restrict(): the one tenancy filter.

Every read of tenant data goes through `restrict()` (ARCHITECTURE rule 2). A
principal holds grants: partner-level memberships (with org_access all/selected/
none) and organization-level memberships (optionally scoped to sites). Each grant
carries the permissions of its role, as "resource:action" strings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.errors import Forbidden
from breeze.core.tenancy_columns import Tenancy

S = TypeVar("S", bound=Select[Any])
T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who did something, as written into the audit log."""

    type: str  # user | api_key | agent | system
    id: uuid.UUID | None
    email: str | None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class PartnerGrant:
    partner_id: uuid.UUID
    permissions: frozenset[str]
    org_access: str = "all"  # all | selected | none
    org_ids: frozenset[uuid.UUID] = frozenset()

    def covers_org(self, org_id: uuid.UUID) -> bool:
        if self.org_access == "all":
            return True
        return self.org_access == "selected" and org_id in self.org_ids


@dataclass(frozen=True)
class OrgGrant:
    partner_id: uuid.UUID
    org_id: uuid.UUID
    permissions: frozenset[str]
    site_ids: frozenset[uuid.UUID] | None = None  # None: every site


@dataclass(frozen=True)
class Principal:
    actor: Actor
    user_id: uuid.UUID | None
    is_platform_admin: bool = False
    partner_grants: tuple[PartnerGrant, ...] = ()
    org_grants: tuple[OrgGrant, ...] = ()
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def email(self) -> str | None:
        return self.actor.email

    def can(
        self,
        permission: str,
        *,
        partner_id: uuid.UUID | None = None,
        org_id: uuid.UUID | None = None,
        site_id: uuid.UUID | None = None,
    ) -> bool:
        """May this principal do `permission` at this place in the tenant tree?

        No org_id means a partner-level action; no site_id an org-wide one.
        """
        if self.is_platform_admin:
            return True
        for pg in self.partner_grants:
            if permission not in pg.permissions or pg.partner_id != partner_id:
                continue
            if org_id is None or pg.covers_org(org_id):
                return True
        if org_id is None:
            return False
        for og in self.org_grants:
            if permission not in og.permissions or og.org_id != org_id:
                continue
            if og.site_ids is None:
                return True
            if site_id is not None and site_id in og.site_ids:
                return True
        return False

    def require(self, permission: str, **where: uuid.UUID | None) -> None:
        if not self.can(permission, **where):
            raise Forbidden(f"You do not have the '{permission}' permission here")

    def permissions_at(
        self, *, partner_id: uuid.UUID, org_id: uuid.UUID | None = None
    ) -> frozenset[str]:
        """Every permission this principal holds at a place (for delegation checks)."""
        from breeze.rbac.catalog import ALL_PERMISSIONS

        if self.is_platform_admin:
            return frozenset(ALL_PERMISSIONS)
        held: set[str] = set()
        for pg in self.partner_grants:
            if pg.partner_id == partner_id and (org_id is None or pg.covers_org(org_id)):
                held |= pg.permissions
        if org_id is not None:
            for og in self.org_grants:
                if og.org_id == org_id and og.site_ids is None:
                    held |= og.permissions
        return frozenset(held)

    def condition(self, model: type[Any], permission: str) -> ColumnElement[bool]:
        """SQL condition selecting the rows of `model` this principal may `permission`."""
        if self.is_platform_admin:
            return true()
        tenancy: Tenancy = model.__tenancy__
        pcol = getattr(model, tenancy.partner) if tenancy.partner else None
        ocol = getattr(model, tenancy.org) if tenancy.org else None
        scol = getattr(model, tenancy.site) if tenancy.site else None
        clauses: list[ColumnElement[bool]] = []
        for pg in self.partner_grants:
            if permission not in pg.permissions or pcol is None:
                continue
            clauses.append(_partner_clause(pg, pcol, ocol))
        for og in self.org_grants:
            if permission not in og.permissions or ocol is None:
                continue
            clause = ocol == og.org_id
            if og.site_ids is not None and scol is not None:
                clause = and_(clause, or_(scol.in_(og.site_ids), scol.is_(None)))
            clauses.append(clause)
        return or_(*clauses) if clauses else false()


def _partner_clause(pg: PartnerGrant, pcol: Any, ocol: Any) -> ColumnElement[bool]:
    in_partner = pcol == pg.partner_id
    if ocol is None or pg.org_access == "all":
        return in_partner  # type: ignore[no-any-return]
    partner_level = and_(in_partner, ocol.is_(None))
    if pg.org_access == "selected" and pg.org_ids:
        return or_(partner_level, and_(in_partner, ocol.in_(pg.org_ids)))
    return partner_level


def restrict(
    stmt: S,
    principal: Principal,
    permission: str,
    model: type[Any],
    *,
    shared: ColumnElement[bool] | None = None,
) -> S:
    """Limit `stmt` to rows of `model` the principal may `permission`; hide deleted rows.

    `shared` marks rows every principal may see (built-in roles, for example).
    """
    condition = principal.condition(model, permission)
    stmt = stmt.where(condition if shared is None else or_(shared, condition))
    if hasattr(model, "deleted_at"):
        stmt = stmt.where(model.deleted_at.is_(None))
    return stmt


SYSTEM_ACTOR = Actor(type="system", id=None, email=None)
SYSTEM = Principal(actor=SYSTEM_ACTOR, user_id=None, is_platform_admin=True)


async def fetch_visible(
    session: AsyncSession, principal: Principal, permission: str, model: type[T], row_id: Any
) -> T | None:
    """The row of `model` with this id if the principal may `permission` it, else None."""
    stmt = restrict(select(model), principal, permission, model).where(
        model.id == row_id  # type: ignore[attr-defined]
    )
    return (await session.execute(stmt)).scalar_one_or_none()
