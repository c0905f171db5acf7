"""Request and response bodies of authentication."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from breeze.users.schemas import MembershipOut as UserMembership


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Input):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    use_cookie: bool = Field(
        False, description="Console sign-in: set an httponly session cookie and a CSRF cookie"
    )


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class CookieLogin(BaseModel):
    """Answer of a console sign-in; the session lives in the httponly cookie."""

    csrf_token: str
    expires_in: int


class MfaRequired(BaseModel):
    mfa_required: Literal[True] = True
    mfa_token: str


class MfaVerifyRequest(Input):
    mfa_token: str = Field(min_length=1, max_length=2000)
    code: str = Field(min_length=6, max_length=32, description="TOTP code or a recovery code")


class RefreshRequest(Input):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(Input):
    refresh_token: str | None = Field(None, max_length=200)


class MembershipOut(UserMembership):
    """A membership of the signed-in user, with the permissions it grants."""

    permissions: list[str]


class MeOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    status: str
    is_platform_admin: bool
    mfa_enabled: bool
    last_login_at: datetime | None
    auth_method: Literal["token", "api_key", "cookie"]
    memberships: list[MembershipOut]


class MfaSetupOut(BaseModel):
    secret: str = Field(description="Base32 TOTP secret, for typing into an app by hand")
    otpauth_uri: str = Field(description="otpauth:// URI, for a QR code")


class MfaCodeRequest(Input):
    code: str = Field(min_length=6, max_length=32, description="TOTP code (or a recovery code)")


class MfaDisableRequest(Input):
    password: str = Field(min_length=1, max_length=256)
    code: str = Field(min_length=6, max_length=32, description="TOTP code or a recovery code")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Single-use codes; shown only this once")


class ForgotPasswordRequest(Input):
    email: EmailStr


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class ResetPasswordRequest(Input):
    token: str = Field(min_length=1, max_length=200, description="The token of the mailed link")
    password: str = Field(min_length=1, max_length=256)


class ChangePasswordRequest(Input):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str = Field(description="api (tokens) or web (console cookie)")
    ip_address: str | None
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool = False


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Stripped before the length check, so a name of only spaces is refused as empty.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]


class ProfileUpdate(Input):
    name: Name = Field(description="Your display name")


class SessionsRevoked(BaseModel):
    revoked: int = Field(description="How many sessions ended")


class SetupRequest(Input):
    """The first platform administrator, on a fresh installation."""

    name: Name
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
