"""Signed JWTs: short-lived access tokens and the MFA step token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from breeze.core.errors import Unauthorized
from breeze.db.base import utcnow

ALGORITHM = "HS256"
ISSUER = "breeze"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID


def issue(secret: str, *, purpose: str, subject: uuid.UUID, ttl: int, **claims: str) -> str:
    now = utcnow()
    payload = {
        "iss": ISSUER,
        "typ": purpose,
        "sub": str(subject),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode(secret: str, token: str, *, purpose: str) -> dict[str, str]:
    try:
        payload: dict[str, str] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("The token is not valid") from None
    if payload.get("typ") != purpose:
        raise Unauthorized("The token is not valid for this use")
    return payload


def access_token(secret: str, *, user_id: uuid.UUID, session_id: uuid.UUID, ttl: int) -> str:
    return issue(secret, purpose="access", subject=user_id, ttl=ttl, sid=str(session_id))


def read_access_token(secret: str, token: str) -> AccessClaims:
    payload = decode(secret, token, purpose="access")
    try:
        return AccessClaims(uuid.UUID(payload["sub"]), uuid.UUID(payload["sid"]))
    except (KeyError, ValueError):
        raise Unauthorized("The token is not valid") from None
