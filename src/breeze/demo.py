"""`breeze demo`: first run on a fresh machine. Creates an administrator and a
sample tenant when the database is empty, prints how to sign in, starts the server,
and enrolls and runs a local agent for this machine so a real device shows up.

The local agent is a subprocess (``python -m breeze_agent.cli``) with its config in
``<data_dir>/agent/``; it stops with the server, and a later ``breeze demo`` reuses its
enrollment. The demo's enrollment key is kept in ``<data_dir>/demo-enrollment-key.txt``
(0600) so more machines can be added with the install script.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.agents.actions import do_create_enrollment_key
from breeze.agents.schemas import EnrollmentKeyCreate
from breeze.audit.actions import record
from breeze.auth.passwords import hash_password
from breeze.core.principal import SYSTEM, SYSTEM_ACTOR
from breeze.db.base import utcnow
from breeze.db.engine import create_database
from breeze.db.migrate import upgrade_async
from breeze.rbac.catalog import BUILTIN_BY_KEY
from breeze.settings import Settings
from breeze.tenancy.models import Organization, Partner, Site
from breeze.users.models import OrganizationUser, PartnerUser, User
from breeze.users.queries import any_user_exists
from breeze_agent.config import (
    ConfigError,
    is_loopback_host,
    load_config,
    save_config,
    write_private,
)

DEMO_EMAIL = "admin@example.com"


@dataclass(frozen=True)
class DemoSeed:
    created: bool
    email: str
    password: str | None
    credentials_file: Path
    org_id: uuid.UUID | None = None


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
                org_id = await _demo_org(uow.session)
                return DemoSeed(False, DEMO_EMAIL, None, cred_file, org_id)
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
        return DemoSeed(True, DEMO_EMAIL, password, cred_file, org.id)
    finally:
        await db.dispose()


async def _demo_org(session: AsyncSession) -> uuid.UUID | None:
    """The demo organization, else the oldest live one (data created by hand)."""
    live = select(Organization.id).where(Organization.deleted_at.is_(None))
    found = (await session.execute(live.where(Organization.slug == "demo-customer"))).scalar()
    if found is None:
        found = (await session.execute(live.order_by(Organization.created_at))).scalar()
    return found


async def enrollment_key(settings: Settings, org_id: uuid.UUID, *, fresh: bool = False) -> str:
    """The demo's enrollment key: the saved one, or a new one made by the key action."""
    key_file = settings.data_dir / "demo-enrollment-key.txt"
    if not fresh and key_file.exists():
        return key_file.read_text().strip()
    db = create_database(settings)
    try:
        async with db.write() as uow:
            data = EnrollmentKeyCreate(name="Demo key", org_id=org_id)
            _, raw = await do_create_enrollment_key(uow.session, actor=SYSTEM, data=data)
    finally:
        await db.dispose()
    write_private(key_file, raw + "\n")
    return raw


# -- the local agent -----------------------------------------------------------------------


def local_server_url(host: str, port: int) -> str:
    """How a process on this machine reaches the server: loopback when it listens there."""
    if host in ("", "0.0.0.0", "127.0.0.1", "localhost"):  # noqa: S104 - comparing, not binding
        return f"http://127.0.0.1:{port}"
    if host in ("::", "::1"):
        return f"http://[::1]:{port}"
    return f"http://{host}:{port}"


class LocalAgent:
    """``breeze-agent`` for this machine, run as a subprocess of the demo server."""

    EXIT_REVOKED = 3
    EXIT_NOT_ENROLLED = 4

    def __init__(self, settings: Settings, server_url: str, say: Callable[[str], None]) -> None:
        self.settings = settings
        self.server_url = server_url
        self.say = say
        self.dir = settings.data_dir.resolve() / "agent"
        self.config = self.dir / "agent.json"
        self.log = self.dir / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "breeze_agent.cli", *args, "--config", str(self.config)]

    def _insecure(self) -> list[str]:
        host = urlsplit(self.server_url).hostname or ""
        return [] if is_loopback_host(host) else ["--insecure"]

    def enrolled(self) -> bool:
        """True when a config exists; its server URL is updated to this run's port."""
        try:
            config = load_config(self.config)
        except ConfigError:
            return False
        if config.server_url != self.server_url:
            config.server_url = self.server_url
            config.insecure = bool(self._insecure())
            save_config(self.config, config)
        return True

    def enroll(self, key: str) -> bool:
        self.dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            self._command("enroll", "--server", self.server_url, *self._insecure()),
            env={**os.environ, "BREEZE_AGENT_KEY": key},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            self.say(f"local agent enrollment failed: {(proc.stderr or proc.stdout).strip()}")
        return proc.returncode == 0

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self._command("run"), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def device_id(self) -> str | None:
        try:
            return load_config(self.config).device_id
        except ConfigError:
            return None

    async def supervise(self, org_id: uuid.UUID) -> None:
        """Enroll if needed, run, and re-enroll once should the server refuse the token."""
        re_enrolled = False
        restarts = 0
        if not await asyncio.to_thread(self.enrolled):
            key = await enrollment_key(self.settings, org_id)
            ok = await asyncio.to_thread(self.enroll, key)
            if not ok:  # the saved key may belong to an older database: make a new one
                key = await enrollment_key(self.settings, org_id, fresh=True)
                ok = await asyncio.to_thread(self.enroll, key)
            if not ok:
                return
            re_enrolled = True
        while True:
            self.start()
            self.say(f"local agent running: device {self.device_id()} (log: {self.log})")
            assert self.process is not None
            code = await asyncio.to_thread(self.process.wait)
            if code in (self.EXIT_REVOKED, self.EXIT_NOT_ENROLLED) and not re_enrolled:
                self.say("the server no longer knows the local agent; enrolling it again")
                key = await enrollment_key(self.settings, org_id, fresh=True)
                if not await asyncio.to_thread(self.enroll, key):
                    return
                re_enrolled = True
                continue
            restarts += 1
            if code in (self.EXIT_REVOKED, self.EXIT_NOT_ENROLLED) or restarts > 3:
                self.say(f"local agent stopped (exit {code}); see {self.log}")
                return
            await asyncio.sleep(2.0 * restarts)


# -- serving -------------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(
    settings: Settings,
    *,
    port: int,
    org_id: uuid.UUID | None,
    with_agent: bool,
    say: Callable[[str], None],
) -> None:
    """Run the server; once it answers, the local agent; stop the agent with the server."""
    import uvicorn

    from breeze.app import create_app
    from breeze.ops.gc import tune_for_server
    from breeze.ops.serving import uvicorn_options

    asgi_app = create_app(settings)
    tune_for_server(settings.server.gc_young_threshold)  # as `breeze server`
    config = uvicorn.Config(asgi_app, **{**uvicorn_options(settings), "port": port})
    server = uvicorn.Server(config)
    agent = LocalAgent(settings, local_server_url(settings.server.host, port), say)
    # uvicorn re-raises the signal that stopped it once it is done: make SIGTERM an
    # exception so the agent below is stopped instead of the process dying at once.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)

    async def run() -> None:
        serving = asyncio.create_task(server.serve())
        supervisor: asyncio.Task[None] | None = None
        while not server.started and not serving.done():  # noqa: ASYNC110 - no event to await
            await asyncio.sleep(0.05)
        if server.started and with_agent:
            if org_id is None:
                say("no organization exists yet: create one, then restart to add this machine")
            else:
                supervisor = asyncio.create_task(agent.supervise(org_id))
        try:
            await serving
        finally:
            if supervisor is not None:
                supervisor.cancel()
            await asyncio.to_thread(agent.stop)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
