"""Creating the first platform administrator from the command line."""

from __future__ import annotations

import uuid

from pydantic import EmailStr, TypeAdapter, ValidationError

from breeze.audit.actions import record
from breeze.auth.passwords import check_policy, hash_password
from breeze.core.errors import Conflict, InvalidInput
from breeze.core.principal import SYSTEM_ACTOR
from breeze.db.base import utcnow
from breeze.db.engine import create_database
from breeze.db.migrate import upgrade_async
from breeze.settings import Settings
from breeze.users.models import User
from breeze.users.queries import user_by_email


async def create_platform_admin(
    settings: Settings, *, email: str, password: str, name: str
) -> uuid.UUID:
    try:
        email = str(TypeAdapter(EmailStr).validate_python(email.strip())).lower()
    except ValidationError:
        raise InvalidInput(f"'{email}' is not a valid email address", field="email") from None
    check_policy(
        password,
        min_length=settings.auth.password_min_length,
        min_score=settings.auth.password_min_score,
        user_inputs=[email, name],
    )
    if settings.is_sqlite:
        await upgrade_async(settings)
    db = create_database(settings)
    try:
        async with db.write() as uow:
            if await user_by_email(uow.session, email) is not None:
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
            uow.session.add(user)
            await uow.session.flush()
            await record(
                uow.session,
                actor=SYSTEM_ACTOR,
                action="user.create_platform_admin",
                resource_type="user",
                resource_id=user.id,
                resource_name=email,
                details={"via": "cli"},
            )
        return user.id
    finally:
        await db.dispose()
