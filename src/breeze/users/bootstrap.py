"""Creating a platform administrator: from the command line (`breeze admin create`) and,
on a fresh installation, from the console's first-run set-up page."""

from __future__ import annotations

import uuid

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.audit.actions import record
from breeze.auth.passwords import check_policy, hash_password
from breeze.core.errors import Conflict, InvalidInput
from breeze.core.principal import SYSTEM_ACTOR, Actor
from breeze.db.base import utcnow
from breeze.db.engine import create_database
from breeze.db.migrate import upgrade_async
from breeze.settings import Settings
from breeze.users.models import User
from breeze.users.queries import user_by_email


def _valid_email(email: str) -> str:
    try:
        return str(TypeAdapter(EmailStr).validate_python(email.strip())).lower()
    except ValidationError:
        raise InvalidInput(f"'{email}' is not a valid email address", field="email") from None


async def add_platform_admin(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    name: str,
    via: str,
    actor: Actor = SYSTEM_ACTOR,
) -> User:
    """Validate, create and audit a platform administrator in the caller's transaction."""
    email = _valid_email(email)
    check_policy(
        password,
        min_length=settings.auth.password_min_length,
        min_score=settings.auth.password_min_score,
        user_inputs=[email, name],
    )
    if await user_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} already exists", field="email")
    now = utcnow()
    user = User(
        id=uuid.uuid4(),
        email=email,
        name=name,
        password_hash=hash_password(password),
        status="active",
        is_platform_admin=True,
        password_changed_at=now,
    )
    session.add(user)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="user.create_platform_admin",
        resource_type="user",
        resource_id=user.id,
        resource_name=email,
        details={"via": via},
    )
    return user


async def create_platform_admin(
    settings: Settings, *, email: str, password: str, name: str
) -> uuid.UUID:
    if settings.is_sqlite:
        await upgrade_async(settings)
    db = create_database(settings)
    try:
        async with db.write() as uow:
            user = await add_platform_admin(
                uow.session, settings, email=email, password=password, name=name, via="cli"
            )
        return user.id
    finally:
        await db.dispose()
