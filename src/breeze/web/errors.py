"""Errors on console pages: a page (or, for htmx, an alert in #flash-area) in words a
technician understands; an expired session goes back to the sign-in page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from breeze.web.context import redirect, sign_in_url
from breeze.web.templating import is_htmx, render_page

NOT_CONSOLE = ("/api/", "/ws/", "/static/", "/metrics", "/health", "/ready", "/install")


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(NOT_CONSOLE):
        return False
    return is_htmx(request) or "text/html" in request.headers.get("accept", "")


def sign_in_again(request: Request, detail: str) -> Response:
    message = None if detail == "Sign in to continue" else detail
    return redirect(request, sign_in_url(request), message, "warning")


def html_error(
    request: Request,
    status: int,
    title: str,
    detail: str,
    problems: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {"status": status, "title": title, "detail": detail, "problems": problems or []}
    if is_htmx(request):
        extra = {"HX-Retarget": "#flash-area", "HX-Reswap": "innerHTML"}
        return render_page(
            request,
            "errors/alert.html",
            context,
            status=status,
            headers={**(headers or {}), **extra},
        )
    return render_page(request, "errors/error.html", context, status=status, headers=headers)
