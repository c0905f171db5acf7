"""Enrollment: an agent trades an enrollment key for a device and an agent token.

A key with `max_uses` is counted with one conditional UPDATE in the enrolling
transaction, so the limit holds when many agents enroll at once; a key without one is
counted right after commit (`count_unlimited_use`), off the enrollment's critical path.
Re-enrolling a machine (same machine_id, same organization, device not decommissioned)
replaces its token, keeps the device, and creates no duplicate.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.agents import queries
from breeze.agents.auth import AGENT_TOKEN_PREFIX
from breeze.agents.errors import DeviceLimitReached, EnrollmentRefused, NoSite
from breeze.agents.models import EnrollmentKey
from breeze.audit.actions import record
from breeze.core.principal import SYSTEM, Actor
from breeze.core.security import new_token, token_hash
from breeze.db.base import utcnow
from breeze.db.engine import Database
from breeze.db.sql import is_postgresql
from breeze.devices.models import Device
from breeze.settings import AgentSettings
from breeze.tenancy import queries as tenancy
from breeze.tenancy.errors import OrgNotFound
from breeze.tenancy.models import Organization, Partner
from breeze_protocol.agent_api import EnrollRequest

log = logging.getLogger("breeze.agents")


@dataclass(frozen=True)
class Enrolled:
    device: Device
    token: str
    re_enrolled: bool
    came_online: bool  # a re-enrolled device that was offline
    uncounted_key_id: uuid.UUID | None = None  # count_unlimited_use after commit


def new_agent_id() -> str:
    return "agt_" + secrets.token_hex(10)


def _refuse_unusable(key: EnrollmentKey | None, now: datetime) -> EnrollmentKey:
    if key is None:
        raise EnrollmentRefused("The enrollment key is not valid")
    if key.revoked_at is not None:
        raise EnrollmentRefused("The enrollment key has been revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise EnrollmentRefused("The enrollment key has expired")
    if key.max_uses is not None and key.uses >= key.max_uses:
        raise EnrollmentRefused("The enrollment key has been used up (max_uses reached)")
    return key


async def _count_use(session: AsyncSession, key: EnrollmentKey, now: datetime) -> None:
    """uses += 1 only while the key is still usable: concurrent enrollments queue on the
    row and re-check the condition, so max_uses is never exceeded."""
    result = await session.execute(
        update(EnrollmentKey)
        .where(
            EnrollmentKey.id == key.id,
            EnrollmentKey.revoked_at.is_(None),
            or_(EnrollmentKey.expires_at.is_(None), EnrollmentKey.expires_at > now),
            or_(EnrollmentKey.max_uses.is_(None), EnrollmentKey.uses < EnrollmentKey.max_uses),
        )
        .values(uses=EnrollmentKey.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise EnrollmentRefused("The enrollment key has been used up (max_uses reached)")


def _lock_key(value: uuid.UUID) -> int:
    high = value.int >> 64
    return high - (1 << 64) if high >= (1 << 63) else high


async def _check_limits(session: AsyncSession, org: Organization) -> None:
    partner: Partner = await tenancy.get_partner(session, SYSTEM, org.partner_id)
    if partner.max_devices is None and org.max_devices is None:
        return
    if is_postgresql(session):
        # Serialise enrollments of this partner so two cannot both take the last seat.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(partner.id)}
        )
    if partner.max_devices is not None:
        used = await queries.count_active_devices(session, partner_id=partner.id)
        if used >= partner.max_devices:
            raise DeviceLimitReached(f"The partner's plan allows {partner.max_devices} device(s)")
    if org.max_devices is not None:
        used = await queries.count_active_devices(session, org_id=org.id)
        if used >= org.max_devices:
            raise DeviceLimitReached(f"The organization allows {org.max_devices} device(s)")


async def _site_id(session: AsyncSession, key: EnrollmentKey) -> uuid.UUID:
    if key.site_id is not None and await queries.live_site(session, key.site_id) is not None:
        return key.site_id
    site = await queries.first_live_site(session, key.org_id)
    if site is None:
        raise NoSite()
    return site.id


def _describe(device: Device, data: EnrollRequest) -> None:
    device.hostname = data.hostname
    device.os_type = data.os_type
    device.os_version = data.os_version
    device.os_build = data.os_build
    device.architecture = data.architecture
    device.agent_version = data.agent_version


async def do_enroll(
    session: AsyncSession,
    *,
    data: EnrollRequest,
    agents: AgentSettings,
    ip: str | None = None,
    user_agent: str | None = None,
) -> Enrolled:
    now = utcnow()
    key = _refuse_unusable(
        await queries.key_by_secret_hash(session, token_hash(data.enrollment_key)), now
    )
    try:
        org = await tenancy.get_org(session, SYSTEM, key.org_id)
    except OrgNotFound:
        raise EnrollmentRefused("The enrollment key's organization no longer exists") from None
    token = new_token(AGENT_TOKEN_PREFIX)
    device = await queries.active_device_for_machine(session, org.id, data.machine_id)
    re_enrolled = device is not None
    came_online = False
    if device is not None:
        came_online = device.status == "offline"
        _describe(device, data)
        device.agent_token_hash = token_hash(token)
        device.status = "online"
        device.last_seen_at = now
        device.enrollment_key_id = key.id
    else:
        await _check_limits(session, org)
        device = Device(
            id=uuid.uuid4(),
            partner_id=org.partner_id,
            org_id=org.id,
            site_id=await _site_id(session, key),
            agent_id=new_agent_id(),
            machine_id=data.machine_id,
            agent_token_hash=token_hash(token),
            status="online",
            last_seen_at=now,
            enrolled_at=now,
            enrollment_key_id=key.id,
            heartbeat_interval_seconds=agents.heartbeat_interval_seconds,
            config_version=1,
            tags=[],
        )
        _describe(device, data)
        session.add(device)
    await session.flush()
    if key.max_uses is not None:
        # Counted last: the key's row stays locked until COMMIT and every enrollment with
        # this key queues on it, so the device's own writes are done before it is taken.
        await _count_use(session, key, now)
    await record(
        session,
        actor=Actor(type="agent", id=device.id, email=None, ip=ip, user_agent=user_agent),
        action="device.enroll",
        resource_type="device",
        resource_id=device.id,
        resource_name=device.hostname,
        partner_id=device.partner_id,
        org_id=device.org_id,
        details={
            "agent_id": device.agent_id,
            "machine_id": device.machine_id,
            "site_id": str(device.site_id),
            "os_type": device.os_type,
            "agent_version": device.agent_version,
            "enrollment_key_id": str(key.id),
            "enrollment_key_prefix": key.prefix,
            "re_enrolled": re_enrolled,
        },
    )
    uncounted = key.id if key.max_uses is None else None
    return Enrolled(device, token, re_enrolled, came_online, uncounted_key_id=uncounted)


async def count_unlimited_use(db: Database, key_id: uuid.UUID) -> None:
    """uses += 1 for a key without max_uses, after the enrollment committed.

    Nothing is enforced by this count, so it is not worth holding the key's row lock for
    the whole enrolling transaction: a fleet enrolling with one key would queue on that
    row (the benchmark saw 2.3 s waits at 10 enrollments/s). One statement, own commit;
    a failure is logged, never turned into an error for an enrollment that is done."""
    try:
        async with db.write() as uow:
            await uow.session.execute(
                update(EnrollmentKey)
                .where(EnrollmentKey.id == key_id)
                .values(uses=EnrollmentKey.uses + 1)
                .execution_options(synchronize_session=False)
            )
    except Exception:
        log.exception("could not count a use of enrollment key %s", key_id)
