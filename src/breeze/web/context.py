"""Per-request context of console pages: who is signed in, the scope in the URL, the
CSRF token; and the anonymous variant for sign-in pages (double-submit cookie)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import Response

from breeze.auth.principals import SAFE_METHODS, resolve_console
from breeze.core.context import Ctx
from breeze.core.errors import Forbidden
from breeze.core.security import same
from breeze.core.state import AppState, app_state
from breeze.web.flash import Level, flash
from breeze.web.scope import Scope, scope_of
from breeze.web.templating import is_htmx

FORM_TOKEN_COOKIE = "breeze_form"
CSRF_FIELD = "csrf_token"


async def _form_token(request: Request) -> str:
    """The csrf_token field of a submitted form ('' for other bodies)."""
    kind = request.headers.get("content-type", "")
    if request.method in SAFE_METHODS or not kind.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return ""
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


@dataclass
class WebCtx(Ctx):
    request: Request
    scope: Scope
    csrf_token: str

    @property
    def user_name(self) -> str:
        return str(self.principal.extra.get("user_name") or self.principal.email or "")

    def can(
        self,
        permission: str,
        *,
        partner_id: uuid.UUID | None = None,
        org_id: uuid.UUID | None = None,
        site_id: uuid.UUID | None = None,
    ) -> bool:
        """May the user do this at a place, or (no place given) somewhere in the scope?

        Used to decide what the page offers; the action checks again on submit.
        """
        p = self.principal
        if partner_id or org_id or site_id:
            return p.can(permission, partner_id=partner_id, org_id=org_id, site_id=site_id)
        if self.scope.org_id:
            if p.can(permission, partner_id=self.scope.partner_id, org_id=self.scope.org_id):
                return True
            return any(
                g.org_id == self.scope.org_id and permission in g.permissions for g in p.org_grants
            )
        if p.is_platform_admin:
            return True
        return any(permission in g.permissions for g in p.partner_grants) or any(
            permission in g.permissions for g in p.org_grants
        )

    def url(self, path: str, **params: object) -> str:
        return self.scope.url(path, **params)

    def redirect(self, path: str, message: str | None = None, level: Level = "success") -> Response:
        """Go to `path` (scope kept) after a successful form; htmx follows HX-Redirect."""
        return redirect(self.request, self.url(path), message, level)


def redirect(
    request: Request, location: str, message: str | None = None, level: Level = "success"
) -> Response:
    if is_htmx(request):
        response = Response(status_code=204, headers={"HX-Redirect": location})
    else:
        response = Response(status_code=303, headers={"Location": location})
    if message:
        flash(response, message, level)
    return response


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a local path may be a post-sign-in destination (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


async def web_ctx(request: Request) -> WebCtx:
    principal = await resolve_console(request, await _form_token(request))
    state = app_state(request)
    async with state.db.read() as session:
        scope = await scope_of(request, session, principal)
    return WebCtx(
        principal=principal,
        state=state,
        request=request,
        scope=scope,
        csrf_token=str(principal.extra.get("csrf_token", "")),
    )


WebCtxDep = Annotated[WebCtx, Depends(web_ctx)]


@dataclass
class AnonCtx:
    """A page that needs no sign-in (sign in, reset password, accept invitation, set-up)."""

    request: Request
    state: AppState
    csrf_token: str


async def anon_ctx(request: Request) -> AnonCtx:
    token = request.cookies.get(FORM_TOKEN_COOKIE, "")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "") or await _form_token(request)
        if not token or not sent or not same(sent, token):
            raise Forbidden(
                "The form has expired or did not come from Breeze; reload the page and retry"
            )
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_form_token = token
    request.state.anon_csrf = token
    return AnonCtx(request=request, state=app_state(request), csrf_token=token)


AnonCtxDep = Annotated[AnonCtx, Depends(anon_ctx)]
