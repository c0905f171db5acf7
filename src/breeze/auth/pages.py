"""Helpers the sign-in and account pages share: reading a submitted form, the
messages of empty or mismatched fields, and which error headers a page keeps."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from breeze.core.errors import BreezeError, FieldProblem, InvalidInput
from breeze.web.forms import form_values

NO_STORE = {"Cache-Control": "no-store"}


async def submitted(request: Request) -> dict[str, Any]:
    """The submitted form (empty strings as None, csrf_token left out)."""
    return form_values(await request.form())


def require(values: dict[str, Any], messages: dict[str, str]) -> None:
    """InvalidInput naming each empty field with a message a person understands."""
    problems = [FieldProblem(name, text) for name, text in messages.items() if not values.get(name)]
    if problems:
        raise InvalidInput(problems[0].message, problems=problems)


def confirmed(values: dict[str, Any], field: str, confirm: str) -> None:
    """The password typed twice must match."""
    if values.get(field) != values.get(confirm):
        raise InvalidInput("The two passwords do not match", field=confirm)


def kept_headers(exc: BreezeError) -> dict[str, str]:
    """Retry-After tells the browser when to retry; WWW-Authenticate means nothing to it."""
    return {k: v for k, v in exc.headers.items() if k.lower() == "retry-after"}
