"""`breeze demo`: first run on a fresh machine. Creates an administrator and a
sample tenant when the database is empty, prints how to sign in, starts the server."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

from breeze.audit.actions import record
from breeze.auth.passwords import hash_password
from breeze.core.principal import SYSTEM_ACTOR
from breeze.db.base import utcnow
from breeze.db.engine import create_database
from breeze.db.migrate import upgrade_async
from breeze.rbac.catalog import BUILTIN_BY_KEY
from breeze.settings import Settings
from breeze.tenancy.models import Organization, Partner, Site
from breeze.users.models import OrganizationUser, PartnerUser, User
from breeze.users.queries import any_user_exists

DEMO_EMAIL = "admin@example.com"


@dataclass(frozen=True)
class DemoSeed:
    created: bool
    email: str
    password: str | None
    credentials_file: Path


def _passphrase() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits


async def seed(settings: Settings) -> DemoSeed:
    """Create the demo administrator and tenant unless users already exist."""
    cred_file = settings.data_dir / "demo-credentials.txt"
    if settings.is_sqlite:
        await upgrade_async(settings)
    db = create_database(settings)
    try:
        async with db.write() as uow:
            if await any_user_exists(uow.session):
                return DemoSeed(False, DEMO_EMAIL, None, cred_file)
            password = _passphrase()
            s = uow.session
            now = utcnow()
            user = User(
                id=uuid.uuid4(),
                email=DEMO_EMAIL,
                name="Demo Administrator",
                password_hash=hash_password(password),
                status="active",
                is_platform_admin=True,
                password_changed_at=now,
            )
            partner = Partner(id=uuid.uuid4(), name="Demo MSP", slug="demo-msp")
            s.add_all([user, partner])
            await s.flush()
            org = Organization(
                id=uuid.uuid4(), partner_id=partner.id, name="Demo Customer", slug="demo-customer"
            )
            s.add(org)
            await s.flush()
            s.add_all(
                [
                    Site(id=uuid.uuid4(), partner_id=partner.id, org_id=org.id, name="Head Office"),
                    PartnerUser(
                        id=uuid.uuid4(),
                        partner_id=partner.id,
                        user_id=user.id,
                        role_id=BUILTIN_BY_KEY["Partner Admin"].id,
                        org_access="all",
                    ),
                    OrganizationUser(
                        id=uuid.uuid4(),
                        partner_id=partner.id,
                        org_id=org.id,
                        user_id=user.id,
                        role_id=BUILTIN_BY_KEY["Org Admin"].id,
                    ),
                ]
            )
            await s.flush()
            await record(
                s,
                actor=SYSTEM_ACTOR,
                action="demo.seed",
                resource_type="partner",
                resource_id=partner.id,
                resource_name=partner.name,
                partner_id=partner.id,
                details={"admin": DEMO_EMAIL},
            )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        cred_file.write_text(f"email: {DEMO_EMAIL}\npassword: {password}\n")
        cred_file.chmod(0o600)
        return DemoSeed(True, DEMO_EMAIL, password, cred_file)
    finally:
        await db.dispose()
