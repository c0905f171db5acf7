"""FastAPI dependencies: the request's principal and context."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from breeze.auth.principals import SESSION_COOKIE, resolve
from breeze.core.context import Ctx
from breeze.core.principal import Principal
from breeze.core.state import app_state

# Declared so the OpenAPI document shows every accepted credential.
_bearer = HTTPBearer(auto_error=False, description="Access token (JWT) or brz_ API key")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="brz_ API key")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="Console session cookie; unsafe methods need X-CSRF-Token",
)


async def current_principal(
    request: Request,
    _b: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    _k: Annotated[str | None, Security(_api_key)] = None,
    _c: Annotated[str | None, Security(_cookie)] = None,
) -> Principal:
    return await resolve(request)


async def current_ctx(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Ctx:
    return Ctx(principal=principal, state=app_state(request))


CurrentCtx = Annotated[Ctx, Depends(current_ctx)]
