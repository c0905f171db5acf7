"""Turning a request's credentials into a Principal.

Accepted credentials, in order: `Authorization: Bearer <access JWT | brz_ API key>`,
`X-API-Key: brz_…`, and the console's httponly session cookie (whose unsafe
requests must carry the CSRF token in `X-CSRF-Token`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.apikeys.models import ApiKey
from breeze.auth import tokens
from breeze.auth.models import Session
from breeze.core.errors import Forbidden, Unauthorized
from breeze.core.principal import Actor, OrgGrant, PartnerGrant, Principal
from breeze.core.security import same, token_hash
from breeze.core.state import AppState, app_state
from breeze.db.base import utcnow
from breeze.rbac.queries import permissions_of_roles
from breeze.users.models import User
from breeze.users.queries import live_memberships

API_KEY_PREFIX = "brz_"
SESSION_COOKIE = "breeze_session"
CSRF_COOKIE = "breeze_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = timedelta(seconds=60)  # how stale last_used_at may get before we write it


def client_ip(request: Request) -> str | None:
    """The client address (from X-Forwarded-For when sent by a trusted proxy), cut to
    the 64 characters the session and audit columns hold."""
    return request.client.host[:64] if request.client and request.client.host else None


def request_actor(
    request: Request, *, type: str = "user", id: uuid.UUID | None = None, email: str | None = None
) -> Actor:
    return Actor(
        type=type,
        id=id,
        email=email,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


async def grants_of(
    session: AsyncSession, user_id: uuid.UUID
) -> tuple[tuple[PartnerGrant, ...], tuple[OrgGrant, ...]]:
    members = await live_memberships(session, user_id)
    role_ids = {m.role_id for m in members.partner} | {m.role_id for m in members.org}
    perms = await permissions_of_roles(session, role_ids)
    partner = tuple(
        PartnerGrant(
            partner_id=m.partner_id,
            permissions=perms.get(m.role_id, frozenset()),
            org_access=m.org_access,
            org_ids=frozenset(uuid.UUID(str(o)) for o in m.org_ids or []),
        )
        for m in members.partner
    )
    org = tuple(
        OrgGrant(
            partner_id=m.partner_id,
            org_id=m.org_id,
            permissions=perms.get(m.role_id, frozenset()),
            site_ids=None
            if m.site_ids is None
            else frozenset(uuid.UUID(str(s)) for s in m.site_ids),
        )
        for m in members.org
    )
    return partner, org


async def user_principal(
    session: AsyncSession, user: User, actor: Actor, session_id: uuid.UUID | None = None
) -> Principal:
    partner, org = await grants_of(session, user.id)
    return Principal(
        actor=actor,
        user_id=user.id,
        is_platform_admin=user.is_platform_admin,
        partner_grants=partner,
        org_grants=org,
        session_id=session_id,
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def resolve(request: Request) -> Principal:
    """The principal of this request, or Unauthorized."""
    state = app_state(request)
    bearer = _bearer(request)
    api_key = request.headers.get("x-api-key")
    async with state.db.read() as session:
        if bearer and not bearer.startswith(API_KEY_PREFIX):
            principal = await _from_access_token(session, state, request, bearer)
        elif bearer or api_key:
            principal = await _from_api_key(session, state, request, (bearer or api_key or ""))
        elif request.cookies.get(SESSION_COOKIE):
            principal = await _from_cookie(session, state, request)
        else:
            raise Unauthorized()
    request.state.principal = principal
    return principal


async def _live_session(
    session: AsyncSession, state: AppState, stmt_session: Session | None
) -> Session:
    now = utcnow()
    if stmt_session is None or stmt_session.revoked_at is not None:
        raise Unauthorized("The session has ended; sign in again")
    if stmt_session.expires_at <= now:
        raise Unauthorized("The session has expired; sign in again")
    idle = timedelta(seconds=state.settings.auth.session_idle_timeout_seconds)
    if stmt_session.kind == "web" and stmt_session.last_used_at + idle <= now:
        await _end_session(state, stmt_session.id, "idle_timeout")
        raise Unauthorized("The session timed out; sign in again")
    if stmt_session.last_used_at + TOUCH_EVERY <= now:
        await _touch(state, Session, stmt_session.id)
    return stmt_session


async def _active_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or user.status != "active":
        raise Unauthorized("The account is not active")
    return user


async def _from_access_token(
    session: AsyncSession, state: AppState, request: Request, token: str
) -> Principal:
    claims = tokens.read_access_token(state.secret, token)
    sess = await _live_session(session, state, await session.get(Session, claims.session_id))
    if sess.user_id != claims.user_id:
        raise Unauthorized("The token is not valid")
    user = await _active_user(session, claims.user_id)
    actor = request_actor(request, id=user.id, email=user.email)
    return await user_principal(session, user, actor, session_id=sess.id)


async def _from_cookie(
    session: AsyncSession, state: AppState, request: Request, form_csrf: str = ""
) -> Principal:
    raw = request.cookies.get(SESSION_COOKIE, "")
    stmt = select(Session).where(Session.token_hash == token_hash(raw), Session.kind == "web")
    sess = await _live_session(session, state, (await session.execute(stmt)).scalar_one_or_none())
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "") or form_csrf
        if not sess.csrf_token or not sent or not same(sent, sess.csrf_token):
            raise Forbidden("The form has expired or did not come from Breeze (CSRF check failed)")
    user = await _active_user(session, sess.user_id)
    actor = request_actor(request, id=user.id, email=user.email)
    principal = await user_principal(session, user, actor, session_id=sess.id)
    principal.extra["csrf_token"] = sess.csrf_token or ""
    principal.extra["user_name"] = user.name
    return principal


async def resolve_console(request: Request, form_csrf: str = "") -> Principal:
    """The principal of a console page: the session cookie only. An unsafe request must
    carry the session's CSRF token in `X-CSRF-Token` (htmx) or the form's `csrf_token`."""
    state = app_state(request)
    if not request.cookies.get(SESSION_COOKIE):
        raise Unauthorized()
    async with state.db.read() as session:
        principal = await _from_cookie(session, state, request, form_csrf)
    request.state.principal = principal
    return principal


async def _from_api_key(
    session: AsyncSession, state: AppState, request: Request, raw: str
) -> Principal:
    stmt = select(ApiKey).where(ApiKey.key_hash == token_hash(raw.strip()))
    key = (await session.execute(stmt)).scalar_one_or_none()
    now = utcnow()
    if key is None or key.revoked_at is not None:
        raise Unauthorized("The API key is not valid")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("The API key has expired")
    creator = await _active_user(session, key.user_id)
    owner = await user_principal(session, creator, request_actor(request))
    allowed = frozenset(str(p) for p in key.permissions)
    if key.org_id is None:
        held = owner.permissions_at(partner_id=key.partner_id) & allowed
        org_access, org_ids = _creator_org_reach(owner, key.partner_id)
        grants_p: tuple[PartnerGrant, ...] = (
            PartnerGrant(key.partner_id, held, org_access, org_ids),
        )
        grants_o: tuple[OrgGrant, ...] = ()
    else:
        held = owner.permissions_at(partner_id=key.partner_id, org_id=key.org_id) & allowed
        grants_p = ()
        grants_o = (OrgGrant(key.partner_id, key.org_id, held),)
    if key.last_used_at is None or key.last_used_at + TOUCH_EVERY <= now:
        await _touch(state, ApiKey, key.id)
    actor = request_actor(request, type="api_key", id=key.id, email=creator.email)
    return Principal(
        actor=actor,
        user_id=creator.id,
        partner_grants=grants_p,
        org_grants=grants_o,
        api_key_id=key.id,
        extra={"api_key_name": key.name},
    )


def _creator_org_reach(owner: Principal, partner_id: uuid.UUID) -> tuple[str, frozenset[uuid.UUID]]:
    if owner.is_platform_admin:
        return "all", frozenset()
    for grant in owner.partner_grants:
        if grant.partner_id == partner_id:
            return grant.org_access, grant.org_ids
    return "none", frozenset()


async def _touch(state: AppState, model: type[Session] | type[ApiKey], row_id: uuid.UUID) -> None:
    column = model.last_used_at if model is Session else ApiKey.last_used_at
    async with state.db.write() as uow:
        await uow.session.execute(
            update(model).where(model.id == row_id).values({column.key: utcnow()})
        )


async def _end_session(state: AppState, session_id: uuid.UUID, reason: str) -> None:
    async with state.db.write() as uow:
        await uow.session.execute(
            update(Session)
            .where(Session.id == session_id, Session.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
        )
