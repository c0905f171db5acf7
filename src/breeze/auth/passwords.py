"""Argon2id hashing and the password policy (length + strength/breach estimate)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from breeze.core.errors import InvalidInput

MAX_PASSWORD_LENGTH = 256
_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Verifying against this keeps response time equal for unknown accounts.
_DUMMY_HASH = _hasher.hash("breeze-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_policy(
    password: str,
    *,
    min_length: int,
    min_score: int,
    user_inputs: list[str] | None = None,
    field: str = "password",
) -> None:
    """Reject short, over-long, common or guessable passwords (NIST 800-63B style)."""
    if len(password) < min_length:
        raise InvalidInput(f"Password must be at least {min_length} characters long", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be at most {MAX_PASSWORD_LENGTH} characters long", field=field
        )
    inputs = [i for i in (user_inputs or []) if i]
    result = zxcvbn(password[:100], user_inputs=inputs)
    if result["score"] < min_score:
        hint = result.get("feedback", {}).get("warning") or "it is too easy to guess"
        raise InvalidInput(
            f"Password is too weak: {hint.rstrip('.')}. "
            "Use a longer passphrase of unrelated words.",
            field=field,
        )
