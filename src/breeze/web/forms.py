"""Turning submitted forms into the API's own request models, and errors into per-field
messages that the form macros show next to each input."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from breeze.core.errors import BreezeError, FieldProblem, InvalidInput

M = TypeVar("M", bound=BaseModel)


def form_values(form: FormData, *, lists: Iterable[str] = ()) -> dict[str, Any]:
    """A form as a dict: empty strings become None; `lists` fields keep every value."""
    multi = set(lists)
    values: dict[str, Any] = {}
    for key in form:
        if key == "csrf_token":
            continue
        if key in multi:
            values[key] = [v for v in form.getlist(key) if isinstance(v, str) and v != ""]
            continue
        raw = form.get(key)
        if isinstance(raw, str):
            values[key] = raw if raw.strip() != "" else None
    for key in multi:
        values.setdefault(key, [])
    return values


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate with the same schema the JSON API uses; InvalidInput names each field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            FieldProblem(".".join(str(p) for p in err["loc"]) or "form", err["msg"])
            for err in exc.errors()
        ]
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
        raise InvalidInput(detail or "Invalid input", problems=problems) from exc


def field_errors(exc: BreezeError) -> dict[str, str]:
    """Per-field messages ({'name': 'must not be empty'}); '' holds the rest."""
    errors: dict[str, str] = {}
    for problem in exc.problems:
        key = problem.field.removeprefix("body.")
        errors.setdefault(key, problem.message)
    if not errors:
        errors[""] = exc.detail
    return errors
