"""Every write to API keys; each writes its audit row (never the secret)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from breeze.apikeys import queries
from breeze.apikeys.errors import (
    KeyCannotCreateKeys,
    KeyRevoked,
    NoUser,
    PermissionsExceedCreator,
    PlaceRequired,
)
from breeze.apikeys.models import ApiKey
from breeze.apikeys.schemas import ApiKeyCreate, ApiKeyUpdate
from breeze.audit.actions import record
from breeze.core.patch import apply_changes
from breeze.core.principal import Principal
from breeze.core.security import new_token, token_hash
from breeze.db.base import utcnow
from breeze.tenancy import queries as tenancy
from breeze.tenancy.errors import OrgNotFound, PartnerNotFound

KEY_PREFIX = "brz_"
SHOWN_PREFIX_LENGTH = 12


async def _place(
    session: AsyncSession, actor: Principal, data: ApiKeyCreate
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """(partner_id, org_id) of the new key: 404 when the place is hidden from the
    actor, 403 when it is visible but the actor may not create keys there."""
    if (data.partner_id is None) == (data.org_id is None):
        raise PlaceRequired(both=data.partner_id is not None)
    if data.org_id is not None:
        try:
            org = await tenancy.get_org(session, actor, data.org_id, "api_keys:write")
        except OrgNotFound:
            org = await tenancy.get_org(session, actor, data.org_id)
        actor.require("api_keys:write", partner_id=org.partner_id, org_id=org.id)
        return org.partner_id, org.id
    assert data.partner_id is not None
    try:
        partner = await tenancy.get_partner(session, actor, data.partner_id, "api_keys:write")
    except PartnerNotFound:
        partner = await tenancy.get_partner(session, actor, data.partner_id)
    actor.require("api_keys:write", partner_id=partner.id)
    return partner.id, None


async def do_create_api_key(
    session: AsyncSession, *, actor: Principal, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is stored only as a hash."""
    if actor.api_key_id is not None:
        raise KeyCannotCreateKeys()
    if actor.user_id is None:
        raise NoUser()
    partner_id, org_id = await _place(session, actor, data)
    held = actor.permissions_at(partner_id=partner_id, org_id=org_id)
    extra = sorted(set(data.permissions) - held)
    if extra:
        raise PermissionsExceedCreator(extra)
    raw = new_token(KEY_PREFIX)
    key = ApiKey(
        id=uuid.uuid4(),
        partner_id=partner_id,
        org_id=org_id,
        user_id=actor.user_id,
        name=data.name,
        prefix=raw[:SHOWN_PREFIX_LENGTH],
        key_hash=token_hash(raw),
        permissions=list(data.permissions),
        expires_at=data.expires_at,
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    await record(
        session,
        actor=actor.actor,
        action="api_key.create",
        resource_type="api_key",
        resource_id=key.id,
        resource_name=key.name,
        partner_id=partner_id,
        org_id=org_id,
        details={
            "prefix": key.prefix,
            "permissions": key.permissions,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        },
    )
    return key, raw


async def do_update_api_key(
    session: AsyncSession, *, actor: Principal, key_id: uuid.UUID, data: ApiKeyUpdate
) -> ApiKey:
    key = await queries.get_api_key(session, actor, key_id)
    actor.require("api_keys:write", partner_id=key.partner_id, org_id=key.org_id)
    if key.revoked_at is not None:
        raise KeyRevoked()
    diff = apply_changes(key, data.model_dump(exclude_unset=True), required=frozenset({"name"}))
    await record(
        session,
        actor=actor.actor,
        action="api_key.update",
        resource_type="api_key",
        resource_id=key.id,
        resource_name=key.name,
        partner_id=key.partner_id,
        org_id=key.org_id,
        details={"changes": diff},
    )
    return key


async def do_revoke_api_key(session: AsyncSession, *, actor: Principal, key_id: uuid.UUID) -> None:
    """Revoke a key at once; revoking a revoked key changes nothing."""
    key = await queries.get_api_key(session, actor, key_id)
    actor.require("api_keys:delete", partner_id=key.partner_id, org_id=key.org_id)
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    await record(
        session,
        actor=actor.actor,
        action="api_key.revoke",
        resource_type="api_key",
        resource_id=key.id,
        resource_name=key.name,
        partner_id=key.partner_id,
        org_id=key.org_id,
        details={"prefix": key.prefix},
    )
