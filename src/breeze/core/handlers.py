"""Map every error to application/problem+json; never leak a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from breeze.core.errors import BreezeError, Forbidden

log = logging.getLogger("breeze.errors")
PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://breeze.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        source, rest = parts[0], parts[1:]
        return ".".join(rest) if rest and source == "body" else ".".join(parts)
    return ".".join(parts)


def _answer(
    request: Request,
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """problem+json for the API; a page or an inline alert for the console."""
    from breeze.web.errors import html_error, sign_in_again, wants_html

    if not wants_html(request):
        return problem(status, title, detail, code, errors, headers)
    if status == 401:
        return sign_in_again(request, detail)
    return html_error(request, status, title, detail, errors, headers)


async def _breeze_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BreezeError)
    if isinstance(exc, Forbidden):
        await _record_denied(request, exc)
    errors = [{"field": p.field, "message": p.message} for p in exc.problems]
    return _answer(request, exc.status, exc.title, exc.detail, exc.code, errors, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        field = _location(err.get("loc", ())) or "body"
        errors.append({"field": field, "message": str(err.get("msg", "invalid value"))})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return _answer(
        request, 422, "Invalid input", detail or "Invalid input", "invalid_input", errors
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
        exc.status_code, "http_error"
    )
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
    headers = dict(exc.headers) if exc.headers else None
    return _answer(request, exc.status_code, title, str(exc.detail), code, headers=headers)


async def _data_error(request: Request, exc: Exception) -> Response:
    # The database refused a value the schema let through (a NUL character in text on
    # PostgreSQL, an integer beyond 32 bits...). The transaction has rolled back.
    log.info("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    return _answer(
        request,
        422,
        "Invalid input",
        "A value cannot be stored: text must not contain NUL characters and "
        "numbers must be within range",
        "invalid_input",
    )


async def _integrity_error(request: Request, exc: Exception) -> Response:
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return _answer(
        request,
        409,
        "Conflict",
        "The change conflicts with existing data; reload and retry",
        "conflict",
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(
        request,
        500,
        "Internal error",
        "Something went wrong on the server; the error was logged. Retry, or report it",
        "internal_error",
    )


async def _record_denied(request: Request, exc: Forbidden) -> None:
    """A refused attempt by a signed-in principal is worth an audit row (result=denied)."""
    from breeze.audit.actions import record_alone
    from breeze.core.principal import Principal

    principal = getattr(request.state, "principal", None)
    state = getattr(request.app.state, "breeze", None)
    if not isinstance(principal, Principal) or state is None:
        return
    try:
        await record_alone(
            state.db,
            actor=principal.actor,
            action="access.denied",
            details={"method": request.method, "path": request.url.path},
            result="denied",
            error_message=exc.detail,
        )
    except Exception:  # the refusal must still reach the caller
        log.exception("could not record a denied attempt")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BreezeError, _breeze_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected)


class UnexpectedErrors:
    """Answer an unhandled exception with a problem+json 500 and keep the connection.

    Starlette's outermost error middleware re-raises after answering, which makes the
    server drop the keep-alive connection; catching here keeps the client's next
    request working.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def _send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            response = problem(
                500, "Internal error", "An unexpected error occurred", "internal_error"
            )
            await response(scope, receive, send)
