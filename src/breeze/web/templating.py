"""The Jinja2 environment of the console and `render()`, the one way a view answers HTML."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from breeze import __version__
from breeze.web.assets import asset_url, assets_built
from breeze.web.flash import FLASH_COOKIE, take_flash

if TYPE_CHECKING:
    from breeze.web.context import WebCtx

TEMPLATES_DIR = Path(__file__).parent / "templates"
THEME_COOKIE = "breeze_theme"


def human_bytes(value: float | int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PB"


def human_duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "—"
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    minutes, sec = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {sec}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m"
    return f"{hours // 24}d {hours % 24}h"


def time_tag(value: datetime | None, relative: bool = True) -> Markup:
    """A <time> element; the browser turns it into local or relative time."""
    if value is None:
        return Markup('<span class="text-secondary">never</span>')
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    iso = value.astimezone(UTC).isoformat(timespec="seconds")
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    kind = "relative" if relative else "local"
    return Markup('<time datetime="{}" data-format="{}">{}</time>').format(iso, kind, text)


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _island(name: str, **attrs: Any) -> Markup:
    """Attributes that make an element a JS island, mounted by main.js."""
    parts = [Markup('data-island="{}"').format(name)]
    for key, value in attrs.items():
        parts.append(Markup('data-{}="{}"').format(key.replace("_", "-"), value))
    return Markup(" ").join(parts)


def _build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        asset_url=asset_url,
        assets_built=assets_built,
        island=_island,
        version=__version__,
        time=time_tag,
    )
    env.filters.update(bytes=human_bytes, duration=human_duration, number=_number, time=time_tag)
    return env


ENV = _build_env()


def theme_of(request: Request) -> str:
    theme = request.cookies.get(THEME_COOKIE, "")
    return theme if theme in {"light", "dark"} else "auto"


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    ctx: WebCtx | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render `template` with the console's common context (signed in or not)."""
    shown = take_flash(request)
    values: dict[str, Any] = {
        "request": request,
        "ctx": ctx,
        "scope": ctx.scope if ctx else None,
        "principal": ctx.principal if ctx else None,
        "csrf_token": ctx.csrf_token if ctx else getattr(request.state, "anon_csrf", ""),
        "theme": theme_of(request),
        "flash": shown,
        "htmx": is_htmx(request),
        "path": request.url.path,
        "nav_items": _visible_nav(ctx),
    }
    values.update(context or {})
    html = ENV.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    if shown is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    new_token = getattr(request.state, "new_form_token", None)
    if new_token:
        # The double-submit token of anonymous forms (sign-in, reset, invitation).
        response.set_cookie(
            "breeze_form", new_token, httponly=True, samesite="strict", path="/", max_age=86400
        )
    return response


def _visible_nav(ctx: WebCtx | None) -> list[Any]:
    from breeze.web.nav import NAV

    if ctx is None:
        return []
    return [i for i in NAV if i.permission is None or ctx.can(i.permission)]


def render(
    ctx: WebCtx,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a signed-in page or fragment."""
    return render_page(ctx.request, template, context, ctx=ctx, status=status, headers=headers)


def now_utc() -> datetime:
    return datetime.now(UTC)
