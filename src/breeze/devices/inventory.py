"""Inventory ingest: store each section, update the normalised tables, record history.

``do_ingest_inventory`` runs in one transaction with the device row locked (FOR UPDATE on
PostgreSQL; SQLite write transactions are already exclusive), so two uploads of one
device never interleave. For each non-null section:

1. the section's canonical hash (sorted-key compact JSON, SHA-256) is compared with the
   stored one; an identical section is skipped: sending the same document twice
   changes nothing and records nothing;
2. otherwise the previous copy and the new one are diffed (breeze.devices.changes,
   breeze.devices.software) into history rows, and the normalised tables are updated;
3. a section seen for the first time is the *baseline*: its rows are stored but no
   per-item history is written; one ``inventory.baseline`` row summarises them.

A null section (its collector failed, or unchanged in a delta) keeps the stored data. A
section collected before the stored copy of it (a late retry) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from breeze.agents.auth import AgentIdentity
from breeze.audit.actions import record
from breeze.core.errors import Unauthorized
from breeze.db.base import utcnow
from breeze.devices import changes as diff
from breeze.devices.checks import check_inventory, refuse_unencodable
from breeze.devices.models import (
    Device,
    DeviceChange,
    DeviceDisk,
    DeviceHardware,
    DeviceInventorySection,
    DeviceNetwork,
    DeviceSoftware,
)
from breeze.devices.software import Package, StoredPackage, diff_software, packages
from breeze.devices.versions import version_key
from breeze_protocol import INVENTORY_SECTIONS, Inventory

META = "_meta"  # DeviceInventorySection row with per-section receive times and errors
JSON = dict[str, Any]
DELETE_CHUNK = 500
_CUT = {
    "cpu_model": 255,
    "gpu_model": 255,
    "serial_number": 128,
    "manufacturer": 255,
    "model": 255,
    "bios_version": 255,
    "bios_vendor": 255,
    "system_uuid": 64,
    "virtualization": 64,
}


def section_hash(data: JSON, name: str = "") -> str:
    """SHA-256 of the canonical JSON; refuses text that cannot be stored (422 naming it)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        encoded = canonical.encode()
    except UnicodeEncodeError:
        refuse_unencodable(data, name)
        raise
    return hashlib.sha256(encoded).hexdigest()


@dataclass
class _Ingest:
    session: AsyncSession
    device: Device
    now: datetime
    changes: list[diff.Change] = field(default_factory=list)

    async def hardware(self, old: JSON | None, new: JSON, doc: Inventory) -> None:
        row = await self.session.get(DeviceHardware, self.device.id)
        previous = {f: getattr(row, f) for f in diff.HARDWARE_FIELDS} if row else None
        state = diff.hardware_state(new, previous)
        for name, most in _CUT.items():
            if isinstance(state[name], str):
                state[name] = state[name][:most]
        if old is not None and previous is not None:
            self.changes += diff.diff_hardware(previous, state)
        if row is None:
            self.session.add(DeviceHardware(device_id=self.device.id, **state))
        else:
            for name, value in state.items():
                setattr(row, name, value)
            row.updated_at = self.now
        self.device.serial_number = state["serial_number"]
        if new.get("architecture"):
            self.device.architecture = new["architecture"]

    async def os(self, old: JSON | None, new: JSON, doc: Inventory) -> None:
        if old is not None:
            self.changes += diff.diff_os(old, new)
        self.device.hostname = new["hostname"]
        # As the agent describes itself at enrollment: build, else the kernel release.
        self.device.os_version = new.get("version") or ""
        self.device.os_build = (new.get("build") or new.get("kernel") or "")[:100]

    async def network(self, old: JSON | None, new: JSON, doc: Inventory) -> None:
        primary = diff.primary_ip(new)
        if old is not None:
            self.changes += diff.diff_network(old, new, self.device.primary_ip, primary)
        self.device.primary_ip = primary
        await self.session.execute(
            delete(DeviceNetwork).where(DeviceNetwork.device_id == self.device.id)
        )
        rows: list[JSON] = []
        for iface in new.get("interfaces") or []:
            base = {
                "device_id": self.device.id,
                "interface_name": iface["interface_name"],
                "mac_address": iface.get("mac_address"),
                "is_primary": bool(iface.get("is_primary")),
                "updated_at": self.now,
            }
            addresses = iface.get("addresses") or [{}]  # an interface without addresses: 1 row
            for addr in addresses:
                rows.append(
                    {
                        **base,
                        "id": uuid.uuid4(),
                        "ip_address": addr.get("ip_address"),
                        "ip_type": addr.get("ip_type"),
                        "prefix_length": addr.get("prefix_length"),
                    }
                )
        if rows:
            await self.session.execute(insert(DeviceNetwork), rows)

    async def disks(self, old: JSON | None, new: JSON, doc: Inventory) -> None:
        if old is not None:
            self.changes += diff.diff_disks(old, new)
        await self.session.execute(delete(DeviceDisk).where(DeviceDisk.device_id == self.device.id))
        rows = [
            {
                "id": uuid.uuid4(),
                "device_id": self.device.id,
                "mountpoint": fs["mountpoint"],
                "device": fs.get("device"),
                "fstype": fs.get("fs_type"),
                "total_bytes": fs.get("total_bytes"),
                "used_bytes": fs.get("used_bytes"),
                "free_bytes": fs.get("free_bytes"),
                "percent": fs.get("percent_used"),
                "updated_at": self.now,
            }
            for fs in new.get("filesystems") or []
        ]
        if rows:
            await self.session.execute(insert(DeviceDisk), rows)

    async def software(self, old: JSON | None, new: JSON, doc: Inventory) -> None:
        assert doc.software is not None
        wanted = packages(doc.software.items)
        stored = await stored_packages(self.session, self.device.id)
        result = diff_software(stored, wanted, record=old is not None)
        self.changes += result.changes
        await apply_software(
            self.session, self.device.id, result.insert, result.delete, result.update, self.now
        )

    async def users(self, old: JSON | None, new: JSON, doc: Inventory) -> None:
        if old is not None:
            self.changes += diff.diff_users(old, new)

    async def remote_access(self, old: JSON | None, new: JSON, doc: Inventory) -> None:
        if old is not None:
            self.changes += diff.diff_remote_access(old, new)


Applier = Callable[[JSON | None, JSON, Inventory], Awaitable[None]]


async def stored_packages(session: AsyncSession, device_id: uuid.UUID) -> list[StoredPackage]:
    result = await session.execute(
        select(
            DeviceSoftware.id,
            DeviceSoftware.source,
            DeviceSoftware.name,
            DeviceSoftware.version,
            DeviceSoftware.publisher,
            DeviceSoftware.install_date,
            DeviceSoftware.install_location,
            DeviceSoftware.is_system,
        ).where(DeviceSoftware.device_id == device_id)
    )
    return [
        StoredPackage(
            id=row_id,
            source=source or "",
            name=name,
            version=version or "",
            publisher=publisher,
            install_date=install_date,
            install_location=location,
            is_system=is_system,
        )
        for row_id, source, name, version, publisher, install_date, location, is_system in result
    ]


def _software_row(pkg: Package, now: datetime) -> JSON:
    return {
        "version": pkg.version,
        "version_key": version_key(pkg.version),
        "publisher": pkg.publisher,
        "install_date": pkg.install_date,
        "install_location": pkg.install_location,
        "is_system": pkg.is_system,
        "updated_at": now,
    }


async def apply_software(
    session: AsyncSession,
    device_id: uuid.UUID,
    added: Sequence[Package],
    removed: Sequence[uuid.UUID],
    updated: Sequence[tuple[uuid.UUID, Package]],
    now: datetime,
) -> None:
    """Only the differences: bulk INSERT, DELETE by id (chunked), UPDATE by primary key."""
    for start in range(0, len(removed), DELETE_CHUNK):
        chunk = list(removed[start : start + DELETE_CHUNK])
        await session.execute(
            delete(DeviceSoftware)
            .where(DeviceSoftware.id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    if updated:
        await session.execute(
            update(DeviceSoftware),
            [{"id": row_id, **_software_row(pkg, now)} for row_id, pkg in updated],
        )
    if added:
        await session.execute(
            insert(DeviceSoftware),
            [
                {
                    "id": uuid.uuid4(),
                    "device_id": device_id,
                    "name": pkg.name,
                    "source": pkg.source,
                    **_software_row(pkg, now),
                }
                for pkg in added
            ],
        )


async def _lock_device(session: AsyncSession, device_id: uuid.UUID) -> Device:
    device = (
        await session.execute(select(Device).where(Device.id == device_id).with_for_update())
    ).scalar_one_or_none()
    if device is None or device.decommissioned_at is not None or device.agent_token_hash is None:
        raise Unauthorized("The agent token is not valid; the device may have been removed")
    return device


async def do_ingest_inventory(
    session: AsyncSession, *, agent: AgentIdentity, doc: Inventory
) -> int:
    """Store an inventory document of `agent`'s device; return the history rows added."""
    check_inventory(doc)
    device = await _lock_device(session, agent.device_id)
    now = utcnow()
    rows = {
        r.section: r
        for r in (
            await session.execute(
                select(DeviceInventorySection).where(DeviceInventorySection.device_id == device.id)
            )
        ).scalars()
    }
    meta = rows.get(META)
    received: dict[str, str] = dict((meta.data if meta else {}).get("collected_at") or {})
    collected = min(doc.collected_at.astimezone(UTC), now)
    work = _Ingest(session, device, now)
    appliers: dict[str, Applier] = {name: getattr(work, name) for name in INVENTORY_SECTIONS}
    first_seen: dict[str, JSON] = {}
    applied: list[str] = []
    for name in INVENTORY_SECTIONS:
        section = getattr(doc, name)
        if section is None:
            continue
        last = received.get(name)
        if last is not None and collected < datetime.fromisoformat(last):
            continue  # an older copy than the one stored (a late retry)
        received[name] = collected.isoformat()
        data = section.model_dump(mode="json")
        digest = section_hash(data, name)
        row = rows.get(name)
        if row is not None and row.hash == digest:
            continue
        await appliers[name](row.data if row else None, data, doc)
        applied.append(name)
        if row is None:
            first_seen[name] = data
            session.add(
                DeviceInventorySection(device_id=device.id, section=name, data=data, hash=digest)
            )
        else:
            row.data, row.hash, row.updated_at = data, digest, now
    history = work.changes + ([diff.baseline(first_seen)] if first_seen else [])
    _store_meta(session, device.id, meta, received, doc, now)
    if history:
        await session.execute(
            insert(DeviceChange),
            [
                {
                    "id": uuid.uuid4(),
                    "partner_id": device.partner_id,
                    "org_id": device.org_id,
                    "device_id": device.id,
                    "timestamp": now,
                    "category": c.category,
                    "change_type": c.change_type,
                    "subject": c.subject[:300],
                    "old_value": c.old,
                    "new_value": c.new,
                }
                for c in history
            ],
        )
        await record(
            session,
            actor=agent.actor,
            action="device.inventory",
            resource_type="device",
            resource_id=device.id,
            resource_name=device.display_name or device.hostname,
            partner_id=device.partner_id,
            org_id=device.org_id,
            details={
                "changes": len(history),
                "sections": applied,
                "baseline": sorted(first_seen),
                "by_category": dict(Counter(c.category for c in history)),
            },
        )
    device.agent_version = doc.agent_version
    if applied:
        # Imported late: the groups domain builds on devices. Runs after COMMIT and never
        # fails the upload.
        from breeze.groups.evaluation import reevaluate_after_commit

        reevaluate_after_commit(session, [device.id])
    return len(history)


def _store_meta(
    session: AsyncSession,
    device_id: uuid.UUID,
    meta: DeviceInventorySection | None,
    received: dict[str, str],
    doc: Inventory,
    now: datetime,
) -> None:
    data = {
        "collected_at": received,
        "last_inventory_at": now.isoformat(),
        "agent_version": doc.agent_version,
        "mode": doc.mode,
        "errors": doc.errors,
    }
    if meta is None:
        session.add(
            DeviceInventorySection(
                device_id=device_id, section=META, data=data, hash=section_hash(data)
            )
        )
    else:
        meta.data, meta.hash, meta.updated_at = data, section_hash(data), now
