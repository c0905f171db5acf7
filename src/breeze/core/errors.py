"""Typed errors. One handler (breeze.core.handlers) maps them to problem+json."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FieldProblem:
    field: str
    message: str


class BreezeError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        problems: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = list(problems or [])
        if field is not None:
            self.problems.append(FieldProblem(field, detail))
        self.headers = headers or {}


class NotFound(BreezeError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(BreezeError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Unauthorized(BreezeError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str = "Sign in to continue", **kwargs: object) -> None:
        super().__init__(detail, **kwargs)  # type: ignore[arg-type]
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Conflict(BreezeError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidInput(BreezeError):
    status = 422
    code = "invalid_input"
    title = "Invalid input"


class Gone(BreezeError):
    status = 410
    code = "gone"
    title = "Gone"


class TooManyRequests(BreezeError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class PayloadTooLarge(BreezeError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class ServiceUnavailable(BreezeError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"
