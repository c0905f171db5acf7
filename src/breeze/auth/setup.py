"""First-run set-up: on an installation without any account, the first visitor creates
the platform administrator (as `breeze admin create` does) and is signed in.

Open only while no account exists at all: once anyone has an account, set-up is closed
for good (a lost administrator is restored with `breeze admin create`), so the page can
never hand an installation in use to a stranger.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.auth.actions import Issued, open_session
from breeze.auth.errors import AlreadySetUp
from breeze.core.principal import Actor
from breeze.core.state import AppState
from breeze.db.sql import is_postgresql
from breeze.users.bootstrap import add_platform_admin
from breeze.users.queries import any_user_exists

SETUP_LOCK_KEY = 0x42534554  # "BSET": PostgreSQL advisory lock of the set-up


async def needs_setup(session: AsyncSession) -> bool:
    return not await any_user_exists(session)


async def do_first_run_setup(
    session: AsyncSession,
    state: AppState,
    *,
    actor: Actor,
    email: str,
    password: str,
    name: str,
) -> Issued:
    """Create the first platform administrator and open a console session for them."""
    if is_postgresql(session):
        # Two visitors racing through set-up: the second waits, then finds an account.
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SETUP_LOCK_KEY})
    if not await needs_setup(session):
        raise AlreadySetUp()
    who = Actor("user", None, email.strip().lower(), actor.ip, actor.user_agent)
    user = await add_platform_admin(
        session,
        state.settings,
        email=email,
        password=password,
        name=name,
        via="setup",
        actor=who,
    )
    return await open_session(session, state, user=user, actor=actor, cookie=True, method="setup")
