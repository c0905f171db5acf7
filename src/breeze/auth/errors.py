"""Errors of authentication."""

from __future__ import annotations

import uuid

from breeze.core.errors import BreezeError, Conflict, Forbidden, Unauthorized
from breeze.core.principal import Actor


class AttemptFailed(BreezeError):
    """A credential check failed (password, TOTP or recovery code).

    Raised inside `breeze.auth.actions.attempt()`: the transaction rolls back, then
    the failure is counted for throttling and audited in a transaction of its own,
    and the client gets `error`. It carries `error`'s status so that, should it
    escape some other way, the answer is still the right one.
    """

    def __init__(
        self,
        error: BreezeError,
        *,
        actor: Actor,
        email: str,
        action: str,
        reason: str,
        throttled: bool = True,
        resource_type: str = "user",
        resource_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(error.detail, problems=error.problems, headers=error.headers)
        self.status, self.code, self.title = error.status, error.code, error.title
        self.error = error
        self.actor = actor
        self.email = email
        self.action = action
        self.reason = reason
        self.throttled = throttled
        self.resource_type = resource_type
        self.resource_id = resource_id


class InvalidToken(BreezeError):
    """A password-reset link that is unknown, used or expired."""

    code = "invalid_token"
    title = "Invalid or expired link"

    def __init__(self) -> None:
        super().__init__(
            "This password-reset link is not valid, was already used or has expired; "
            "ask for a new one",
            field="token",
        )


class UserOnly(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only a signed-in user can do this; API keys cannot")


class MfaAlreadyEnabled(Conflict):
    def __init__(self) -> None:
        super().__init__("Two-factor authentication is already enabled; disable it first")


class MfaNotEnabled(Conflict):
    def __init__(self) -> None:
        super().__init__("Two-factor authentication is not enabled")


class MfaSetupMissing(Conflict):
    def __init__(self) -> None:
        super().__init__("Start two-factor setup first (POST /api/v1/auth/mfa/setup)")


class MfaUnreadable(Conflict):
    """The stored TOTP secret was sealed with another server key."""

    code = "mfa_unreadable"

    def __init__(self) -> None:
        super().__init__(
            "The two-factor secret cannot be read with the server's current key; "
            "use a recovery code, or ask an administrator"
        )


class InvalidCode(Unauthorized):
    """A wrong TOTP or recovery code at the second sign-in step (the attempt stays open)."""

    def __init__(self) -> None:
        super().__init__("The code is not valid", field="code")


class AlreadySetUp(Conflict):
    """First-run set-up after an account exists."""

    code = "already_set_up"

    def __init__(self) -> None:
        super().__init__(
            "Breeze is already set up: an administrator exists. Sign in instead, or ask "
            "an administrator for an invitation"
        )
