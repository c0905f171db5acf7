"""What changed between two copies of an inventory section (pure functions).

Each ``diff_*`` takes the previous state and the new section as JSON-shaped dicts (what
``model_dump(mode="json")`` gives and what DeviceInventorySection stores) and returns
the history rows to record. Values that move on their own (uptime, free space, logged-in
sessions, link-local addresses) are not history; the sections still store them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

HARDWARE_FIELDS = (
    "cpu_model",
    "cpu_cores",
    "cpu_threads",
    "ram_total_mb",
    "disk_total_gb",
    "gpu_model",
    "serial_number",
    "manufacturer",
    "model",
    "bios_version",
    "bios_vendor",
    "system_uuid",
    "virtualization",
)
OS_UPGRADES = ("name", "version", "build", "kernel")
OS_SETTINGS = ("hostname", "domain", "workgroup", "timezone")
NETWORK_SETTINGS = ("default_gateway_ipv4", "default_gateway_ipv6", "dns_servers", "dns_search")
SSH_SETTINGS = (
    "server_installed",
    "service_enabled",
    "listening",
    "ports",
    "permit_root_login",
    "password_authentication",
)
# A filesystem's reported size may wobble (ZFS datasets, thin pools); smaller moves
# than this fraction are not a "size changed" event.
FS_SIZE_TOLERANCE = 0.01


@dataclass(frozen=True)
class Change:
    category: str
    change_type: str  # added | removed | updated | changed | baseline
    subject: str
    old: JSON | None = None
    new: JSON | None = None


def _value(value: Any) -> JSON:
    return {"value": value}


def _fields(category: str, old: Mapping[str, Any], new: Mapping[str, Any], names: Iterable[str],
            change_type: str = "changed", prefix: str = "") -> list[Change]:  # fmt: skip
    return [
        Change(category, change_type, prefix + name, _value(old.get(name)), _value(new.get(name)))
        for name in names
        if old.get(name) != new.get(name)
    ]


# Hardware ---------------------------------------------------------------------


def virtualization_label(section: Mapping[str, Any]) -> str | None:
    """One word for the DeviceHardware.virtualization column: kvm, docker, physical..."""
    if section.get("is_virtual") is False:
        return "physical"
    if section.get("is_virtual"):
        return (
            section.get("virtualization_platform")
            or section.get("virtualization_type")
            or "virtual"
        )
    return None


def hardware_state(section: Mapping[str, Any], previous: Mapping[str, Any] | None) -> JSON:
    """The values to store: the section's, except that a field the agent could not read
    this time (null, and explained in ``unavailable``) keeps its previous value."""
    unavailable = section.get("unavailable") or {}
    state: JSON = {}
    for name in HARDWARE_FIELDS:
        value = virtualization_label(section) if name == "virtualization" else section.get(name)
        if value is None and previous is not None and name in unavailable:
            value = previous.get(name)
        state[name] = value
    return state


def diff_hardware(previous: Mapping[str, Any], state: Mapping[str, Any]) -> list[Change]:
    return _fields("hardware", previous, state, HARDWARE_FIELDS)


# Operating system -------------------------------------------------------------------


def diff_os(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    return _fields("os", old, new, OS_UPGRADES, "updated") + _fields("os", old, new, OS_SETTINGS)


# Network ----------------------------------------------------------------------------


def _addresses(section: Mapping[str, Any]) -> dict[tuple[str, str], JSON]:
    """(interface, address) -> details, leaving out loopback and link-local addresses."""
    found: dict[tuple[str, str], JSON] = {}
    for iface in section.get("interfaces") or []:
        if iface.get("is_loopback"):
            continue
        for addr in iface.get("addresses") or []:
            if addr.get("scope") in ("link", "host"):
                continue
            found[(iface["interface_name"], addr["ip_address"])] = {
                "interface": iface["interface_name"],
                "ip_type": addr.get("ip_type"),
                "prefix_length": addr.get("prefix_length"),
            }
    return found


def _macs(section: Mapping[str, Any]) -> dict[str, str | None]:
    return {i["interface_name"]: i.get("mac_address") for i in section.get("interfaces") or []}


def diff_network(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_primary_ip: str | None = None,
    new_primary_ip: str | None = None,
) -> list[Change]:
    changes: list[Change] = []
    before, after = _addresses(old), _addresses(new)
    for key in sorted(after.keys() - before.keys()):
        changes.append(Change("network", "added", key[1], None, after[key]))
    for key in sorted(before.keys() - after.keys()):
        changes.append(Change("network", "removed", key[1], before[key], None))
    old_macs, new_macs = _macs(old), _macs(new)
    for name in sorted(old_macs.keys() & new_macs.keys()):
        if old_macs[name] != new_macs[name]:
            changes.append(
                Change(
                    "network",
                    "changed",
                    name,
                    {"mac_address": old_macs[name]},
                    {"mac_address": new_macs[name]},
                )
            )
    if old_primary_ip != new_primary_ip:
        changes.append(
            Change(
                "network", "changed", "primary_ip", _value(old_primary_ip), _value(new_primary_ip)
            )
        )
    return changes + _fields("network", old, new, NETWORK_SETTINGS)


def primary_ip(section: Mapping[str, Any]) -> str | None:
    """The address the console shows: a global IPv4 of the default-route interface, else
    its global IPv6, else any non-loopback global address."""
    interfaces = [i for i in section.get("interfaces") or [] if not i.get("is_loopback")]
    ranked = sorted(interfaces, key=lambda i: not i.get("is_primary"))
    for family in ("ipv4", "ipv6"):
        for iface in ranked:
            for addr in iface.get("addresses") or []:
                if addr.get("ip_type") == family and addr.get("scope") not in ("link", "host"):
                    return str(addr["ip_address"])
    return None


# Disks ------------------------------------------------------------------------------


def _size_moved(old: int | None, new: int | None) -> bool:
    if old is None or new is None:
        return old != new
    return abs(new - old) > FS_SIZE_TOLERANCE * max(old, 1)


def diff_disks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []

    def fs_value(fs: Mapping[str, Any]) -> JSON:
        return {k: fs.get(k) for k in ("device", "fs_type", "total_bytes")}

    before = {f["mountpoint"]: f for f in old.get("filesystems") or []}
    after = {f["mountpoint"]: f for f in new.get("filesystems") or []}
    for mount in sorted(after.keys() - before.keys()):
        changes.append(Change("disks", "added", mount, None, fs_value(after[mount])))
    for mount in sorted(before.keys() - after.keys()):
        changes.append(Change("disks", "removed", mount, fs_value(before[mount]), None))
    for mount in sorted(before.keys() & after.keys()):
        if _size_moved(before[mount].get("total_bytes"), after[mount].get("total_bytes")):
            changes.append(
                Change("disks", "changed", mount, fs_value(before[mount]), fs_value(after[mount]))
            )

    def disk_value(disk: Mapping[str, Any]) -> JSON:
        return {k: disk.get(k) for k in ("size_bytes", "model", "serial_number")}

    old_disks = {f"/dev/{d['name']}": d for d in old.get("block_devices") or []}
    new_disks = {f"/dev/{d['name']}": d for d in new.get("block_devices") or []}
    for name in sorted(new_disks.keys() - old_disks.keys()):
        changes.append(Change("disks", "added", name, None, disk_value(new_disks[name])))
    for name in sorted(old_disks.keys() - new_disks.keys()):
        changes.append(Change("disks", "removed", name, disk_value(old_disks[name]), None))
    for name in sorted(old_disks.keys() & new_disks.keys()):
        was, now = disk_value(old_disks[name]), disk_value(new_disks[name])
        if was != now:
            changes.append(Change("disks", "changed", name, was, now))
    return changes


# Users and remote access ------------------------------------------------------------


def diff_users(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    before = set(old.get("local_admins") or [])
    after = set(new.get("local_admins") or [])
    return [
        Change("users", "added", name, None, {"local_admin": True})
        for name in sorted(after - before)
    ] + [
        Change("users", "removed", name, {"local_admin": True}, None)
        for name in sorted(before - after)
    ]


def diff_remote_access(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    return _fields(
        "remote_access", old.get("ssh") or {}, new.get("ssh") or {}, SSH_SETTINGS, prefix="ssh."
    )


def baseline(sections: Mapping[str, JSON]) -> Change:
    """The one history row of sections received for the first time (instead of one
    "added" row per package, address or filesystem)."""
    counts: dict[str, int] = {}
    for section, key, label in _COUNTED:
        if section in sections:
            counts[label] = len(sections[section].get(key) or [])
    return Change(
        "inventory",
        "baseline",
        "inventory.baseline",
        None,
        {"sections": sorted(sections), "counts": counts},
    )


_COUNTED = (
    ("software", "items", "software"),
    ("network", "interfaces", "interfaces"),
    ("disks", "filesystems", "filesystems"),
    ("users", "local_admins", "local_admins"),
)
