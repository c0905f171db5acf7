"""Keeping group memberships true: set-based SQL, never a per-device Python loop.

A dynamic group holds the live devices of its organization (and site) that match its
rules and that its parent holds. Evaluating it is two statements in the caller's
transaction: DELETE the members that no longer qualify, INSERT ... SELECT the devices that
newly do (recorded ``added_by = dynamic_rule``). A static group is only pruned: members
that left its site or organization, were decommissioned, or that its parent no longer
holds. Children follow their parent (groups are processed parents first, and groups whose
rules name another group after that group).

Triggers: a rule or parent edit (in the action's transaction), devices whose inventory,
tags, custom fields or site changed (``reevaluate_devices``, after commit, just those
devices), and the periodic sweep (breeze.groups.tasks) for rules on time.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Uuid, and_, delete, event, exists, literal, select, true
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from breeze.core.state import AppState
from breeze.db.base import UTCDateTime, utcnow
from breeze.db.engine import Database
from breeze.db.sql import is_postgresql
from breeze.devices.models import Device
from breeze.groups.fields import referenced_groups
from breeze.groups.models import ADDED_RULE, DYNAMIC, DeviceGroup, DeviceGroupMember
from breeze.groups.rules import rule_condition

log = logging.getLogger("breeze.groups")


def qualifying(group: DeviceGroup, *, now: datetime) -> ColumnElement[bool]:
    """The devices ``group`` may hold (dynamic: and that match its rules)."""
    conds: list[ColumnElement[bool]] = [
        Device.org_id == group.org_id,
        Device.decommissioned_at.is_(None),
    ]
    if group.site_id is not None:
        conds.append(Device.site_id == group.site_id)
    if group.parent_id is not None:
        conds.append(
            exists(
                select(1)
                .select_from(DeviceGroupMember)
                .where(
                    DeviceGroupMember.group_id == group.parent_id,
                    DeviceGroupMember.device_id == Device.id,
                )
            )
        )
    if group.type == DYNAMIC:
        conds.append(rule_condition(group.rules or {"all": []}, now=now))
    return and_(true(), *conds)


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: two evaluations racing add a device once."""
    if is_postgresql(session):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(DeviceGroupMember)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(DeviceGroupMember)


async def evaluate_group(
    session: AsyncSession,
    group: DeviceGroup,
    *,
    now: datetime | None = None,
    device_ids: Sequence[uuid.UUID] | None = None,
) -> tuple[int, int]:
    """Bring ``group``'s membership up to date (only for ``device_ids`` when given);
    the numbers of members added and removed."""
    now = now or utcnow()
    where = qualifying(group, now=now)
    scope: list[ColumnElement[bool]] = []
    if device_ids is not None:
        if not device_ids:
            return 0, 0
        scope.append(Device.id.in_(list(device_ids)))
    ok_ids = select(Device.id).where(where, *scope)
    stale = delete(DeviceGroupMember).where(
        DeviceGroupMember.group_id == group.id,
        DeviceGroupMember.device_id.not_in(ok_ids),
    )
    if device_ids is not None:
        stale = stale.where(DeviceGroupMember.device_id.in_(list(device_ids)))
    removed = (await session.execute(stale.execution_options(synchronize_session=False))).rowcount  # type: ignore[attr-defined]
    added = 0
    if group.type == DYNAMIC:
        fresh = select(
            literal(group.id, Uuid()),
            Device.id,
            literal(ADDED_RULE),
            literal(now, UTCDateTime()),
        ).where(
            where,
            *scope,
            ~exists(
                select(1)
                .select_from(DeviceGroupMember)
                .where(
                    DeviceGroupMember.group_id == group.id,
                    DeviceGroupMember.device_id == Device.id,
                )
            ),
        )
        stmt = (
            _insert_ignoring_duplicates(session)
            .from_select(["group_id", "device_id", "added_by", "added_at"], fresh)
            .on_conflict_do_nothing()
        )
        added = (await session.execute(stmt)).rowcount  # type: ignore[attr-defined]
        if device_ids is None:
            group.evaluated_at = now
    return max(added, 0), max(removed, 0)


def ordered(groups: Iterable[DeviceGroup]) -> list[DeviceGroup]:
    """Parents before children, named groups before the groups whose rules name them
    (a cycle, which the actions refuse, falls back to name order)."""
    pending = {g.id: g for g in groups}
    done: set[uuid.UUID] = set()
    out: list[DeviceGroup] = []

    def needs(group: DeviceGroup) -> set[uuid.UUID]:
        deps = referenced_groups(group.rules) if group.type == DYNAMIC else set()
        if group.parent_id is not None:
            deps.add(group.parent_id)
        return {d for d in deps if d in pending and d != group.id}

    while pending:
        ready = sorted(
            (g for g in pending.values() if needs(g) <= done), key=lambda g: (g.name, g.id)
        )
        if not ready:
            ready = sorted(pending.values(), key=lambda g: (g.name, g.id))[:1]
        for g in ready:
            out.append(g)
            done.add(g.id)
            del pending[g.id]
    return out


def _needs_work(group: DeviceGroup) -> bool:
    return group.type == DYNAMIC or group.parent_id is not None or group.site_id is not None


async def evaluate_with_dependants(
    session: AsyncSession, group: DeviceGroup, *, now: datetime | None = None
) -> None:
    """``group`` then every group of its organization that may depend on it."""
    now = now or utcnow()
    rows = (
        await session.execute(select(DeviceGroup).where(DeviceGroup.org_id == group.org_id))
    ).scalars()
    groups = list(rows)
    affected = {group.id}
    changed = True
    while changed:  # descendants and groups whose rules name an affected group
        changed = False
        for g in groups:
            if g.id in affected:
                continue
            refs = referenced_groups(g.rules) if g.type == DYNAMIC else set()
            if g.parent_id in affected or refs & affected:
                affected.add(g.id)
                changed = True
    for g in ordered(g for g in groups if g.id in affected):
        if g.id == group.id or _needs_work(g):
            await evaluate_group(session, g, now=now)


async def evaluate_org_devices(
    session: AsyncSession, org_id: uuid.UUID, device_ids: Sequence[uuid.UUID], now: datetime
) -> None:
    groups = (
        await session.execute(select(DeviceGroup).where(DeviceGroup.org_id == org_id))
    ).scalars()
    for g in ordered(groups):
        if _needs_work(g):
            await evaluate_group(session, g, now=now, device_ids=device_ids)


def _database(target: AppState | Database | AsyncEngine) -> Database:
    if isinstance(target, AppState):
        return target.db
    if isinstance(target, Database):
        return target
    is_sqlite = target.dialect.name == "sqlite"
    return Database(str(target.url), target, target, is_sqlite=is_sqlite)


async def reevaluate_devices(
    target: AppState | Database | AsyncEngine, device_ids: Iterable[uuid.UUID]
) -> None:
    """Re-evaluate every group of these devices' organizations for just these devices.

    Called after commit (inventory ingest, tag / custom field / site changes); idempotent,
    and it never raises: the periodic sweep repairs whatever a failure leaves behind.
    """
    ids = sorted(set(device_ids))
    if not ids:
        return
    try:
        db = _database(target)
        async with db.write() as uow:
            rows = await uow.session.execute(
                select(Device.org_id, Device.id).where(Device.id.in_(ids))
            )
            by_org: dict[uuid.UUID, list[uuid.UUID]] = {}
            for org_id, device_id in rows:
                by_org.setdefault(org_id, []).append(device_id)
            now = utcnow()
            for org_id, devices in sorted(by_org.items()):
                await evaluate_org_devices(uow.session, org_id, devices, now)
    except Exception:
        log.exception("re-evaluating the groups of %d device(s) failed", len(ids))


# Background re-evaluations started by reevaluate_after_commit; kept so they are not
# garbage-collected before they finish.
_RUNNING: set[asyncio.Task[None]] = set()
_PENDING_KEY = "breeze.groups.reevaluate"
_LISTENING_KEY = "breeze.groups.listening"


def reevaluate_after_commit(session: AsyncSession, device_ids: Iterable[uuid.UUID]) -> None:
    """Re-evaluate these devices' groups once ``session``'s transaction commits.

    For callers that hold a session but not the unit of work (the inventory ingest): the
    work starts in the background right after COMMIT, on the same engine, and is dropped
    on rollback. Callers with a unit of work use ``uow.on_commit`` + reevaluate_devices.
    """
    pending: set[uuid.UUID] = session.info.setdefault(_PENDING_KEY, set())
    pending.update(device_ids)
    if session.info.get(_LISTENING_KEY):
        return
    session.info[_LISTENING_KEY] = True
    engine = session.bind
    info = session.info

    # The listeners stay for the session's life (removing one while SQLAlchemy
    # dispatches the event is not allowed); each takes the pending set it finds. They
    # hold the session's info dict, not the session: a listener that referred to its
    # session made a reference cycle, so every inventory upload's session (identity map,
    # event dispatch and all) waited for the garbage collector instead of being freed.
    def after_commit(_s: Session) -> None:
        ids = info.pop(_PENDING_KEY, None)
        if ids and isinstance(engine, AsyncEngine):
            task = asyncio.get_running_loop().create_task(reevaluate_devices(engine, ids))
            _RUNNING.add(task)
            task.add_done_callback(_RUNNING.discard)

    def after_rollback(_s: Session) -> None:
        info.pop(_PENDING_KEY, None)

    event.listen(session.sync_session, "after_commit", after_commit)
    event.listen(session.sync_session, "after_rollback", after_rollback)


async def evaluate_all(db: Database, *, now: datetime | None = None) -> int:
    """Every group that needs it, one transaction per group; the number evaluated."""
    async with db.read() as s:
        rows = (await s.execute(select(DeviceGroup))).scalars().all()
    by_org: dict[uuid.UUID, list[DeviceGroup]] = {}
    for g in rows:
        by_org.setdefault(g.org_id, []).append(g)
    count = 0
    for groups in by_org.values():
        for g in ordered(groups):
            if not _needs_work(g):
                continue
            try:
                async with db.write() as uow:
                    fresh = await uow.session.get(DeviceGroup, g.id)
                    if fresh is None:
                        continue
                    await evaluate_group(uow.session, fresh, now=now or utcnow())
                count += 1
            except Exception:
                log.exception("evaluating device group %s failed", g.id)
    return count
