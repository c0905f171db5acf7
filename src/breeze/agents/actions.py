"""Every console write to enrollment keys; each writes its audit row (never the secret)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from breeze.agents import queries
from breeze.agents.errors import EnrollmentKeyRevoked, MaxUsesBelowUses, SiteNotInOrg
from breeze.agents.models import EnrollmentKey
from breeze.agents.schemas import EnrollmentKeyCreate, EnrollmentKeyUpdate
from breeze.audit.actions import record
from breeze.core.patch import apply_changes
from breeze.core.principal import Principal
from breeze.core.security import new_token, token_hash
from breeze.db.base import utcnow
from breeze.tenancy import queries as tenancy
from breeze.tenancy.errors import OrgNotFound
from breeze.tenancy.models import Organization

ENROLLMENT_KEY_PREFIX = "brz_enr_"
SHOWN_PREFIX_LENGTH = 16


def install_command(public_url: str, key: str) -> str:
    """The one-liner the console shows next to a new key."""
    base = public_url.rstrip("/")
    return f"curl -fsSL {base}/api/v1/agents/install.sh | sudo sh -s -- --server {base} --key {key}"


async def _org(session: AsyncSession, actor: Principal, org_id: uuid.UUID) -> Organization:
    """404 when the organization is hidden from the actor; visible otherwise."""
    try:
        return await tenancy.get_org(session, actor, org_id, "enrollment_keys:write")
    except OrgNotFound:
        return await tenancy.get_org(session, actor, org_id)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def do_create_enrollment_key(
    session: AsyncSession, *, actor: Principal, data: EnrollmentKeyCreate
) -> tuple[EnrollmentKey, str]:
    """Create a key; returns it with its secret, which is stored only as a hash."""
    org = await _org(session, actor, data.org_id)
    if data.site_id is not None:
        site = await queries.live_site(session, data.site_id)
        if site is None or site.org_id != org.id:
            raise SiteNotInOrg()
    actor.require(
        "enrollment_keys:write", partner_id=org.partner_id, org_id=org.id, site_id=data.site_id
    )
    raw = new_token(ENROLLMENT_KEY_PREFIX)
    key = EnrollmentKey(
        id=uuid.uuid4(),
        partner_id=org.partner_id,
        org_id=org.id,
        site_id=data.site_id,
        name=data.name,
        prefix=raw[:SHOWN_PREFIX_LENGTH],
        key_hash=token_hash(raw),
        expires_at=data.expires_at,
        max_uses=data.max_uses,
        uses=0,
        created_by=actor.user_id,
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="enrollment_key.create",
        resource_type="enrollment_key",
        resource_id=key.id,
        resource_name=key.name,
        partner_id=key.partner_id,
        org_id=key.org_id,
        details={
            "prefix": key.prefix,
            "site_id": str(key.site_id) if key.site_id else None,
            "expires_at": _iso(key.expires_at),
            "max_uses": key.max_uses,
        },
    )
    return key, raw


async def do_update_enrollment_key(
    session: AsyncSession, *, actor: Principal, key_id: uuid.UUID, data: EnrollmentKeyUpdate
) -> EnrollmentKey:
    key = await queries.get_enrollment_key(session, actor, key_id)
    actor.require(
        "enrollment_keys:write", partner_id=key.partner_id, org_id=key.org_id, site_id=key.site_id
    )
    if key.revoked_at is not None:
        raise EnrollmentKeyRevoked()
    changes = data.model_dump(exclude_unset=True)
    max_uses = changes.get("max_uses")
    if max_uses is not None and max_uses < key.uses:
        raise MaxUsesBelowUses(key.uses)
    diff = apply_changes(key, changes, required=frozenset({"name"}))
    await record(
        session,
        actor=actor.actor,
        action="enrollment_key.update",
        resource_type="enrollment_key",
        resource_id=key.id,
        resource_name=key.name,
        partner_id=key.partner_id,
        org_id=key.org_id,
        details={"changes": diff},
    )
    return key


async def do_revoke_enrollment_key(
    session: AsyncSession, *, actor: Principal, key_id: uuid.UUID
) -> None:
    """Revoke a key at once; revoking a revoked key changes nothing."""
    key = await queries.get_enrollment_key(session, actor, key_id)
    actor.require(
        "enrollment_keys:delete", partner_id=key.partner_id, org_id=key.org_id, site_id=key.site_id
    )
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    await record(
        session,
        actor=actor.actor,
        action="enrollment_key.revoke",
        resource_type="enrollment_key",
        resource_id=key.id,
        resource_name=key.name,
        partner_id=key.partner_id,
        org_id=key.org_id,
        details={"prefix": key.prefix, "uses": key.uses},
    )
