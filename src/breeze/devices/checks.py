"""Checks an inventory document must pass before anything is stored.

The wire schema (breeze_protocol) checks shapes and types; these add what the tables
need: lengths of columns that identify things (names, addresses, mount points), integer
ranges, finite numbers. Every refusal is a 422 naming the field. Descriptive text that
is only displayed (CPU model, publisher...) is cut to its column instead, the raw
section keeping the full text.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from breeze.core.errors import FieldProblem, InvalidInput
from breeze_protocol import PROTOCOL_VERSION, Inventory

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


class _Problems:
    def __init__(self) -> None:
        self.found: list[FieldProblem] = []

    def add(self, field: str, message: str) -> None:
        if len(self.found) < 20:
            self.found.append(FieldProblem(field, message))

    def length(self, field: str, value: str | None, most: int, least: int = 0) -> None:
        if value is None:
            return
        if len(value) > most:
            self.add(field, f"longer than {most} characters")
        elif len(value) < least or (least and not value.strip()):
            self.add(field, "cannot be empty")

    def at_most(self, field: str, value: int | float | None, most: int) -> None:
        if value is None:
            return
        if isinstance(value, float) and not math.isfinite(value):
            self.add(field, "must be a finite number")
        elif value > most:
            self.add(field, f"must be at most {most}")


def unencodable(value: Any, path: str) -> str | None:
    """Where in `value` a string cannot be stored as UTF-8 (a lone surrogate such as the
    JSON escape \\ud800), or None."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path or "body"
        return None
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, child in items:
        where = f"{path}.{key}" if path else str(key)
        found = unencodable(key, where) if isinstance(key, str) else None
        found = found or unencodable(child, where)
        if found:
            return found
    return None


def refuse_unencodable(value: Any, path: str) -> None:
    field = unencodable(value, path)
    if field is not None:
        raise InvalidInput(f"{field}: text must be valid Unicode (no lone surrogates)", field=field)


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return True


def check_inventory(doc: Inventory) -> None:
    """Raise InvalidInput listing every field (up to 20) that cannot be stored."""
    p = _Problems()
    if doc.protocol_version != PROTOCOL_VERSION:
        p.add(
            "protocol_version",
            f"unsupported protocol version; this server speaks {PROTOCOL_VERSION}",
        )
    p.length("agent_version", doc.agent_version, 50, 1)
    for name, value in (("agent_version", doc.agent_version), ("errors", doc.errors)):
        if unencodable(value, name):
            p.add(name, "text must be valid Unicode (no lone surrogates)")
    try:
        doc.collected_at.astimezone(UTC)
    except OverflowError:
        p.add("collected_at", "date out of range")
    if doc.hardware is not None:
        hw = doc.hardware
        p.at_most("hardware.cpu_cores", hw.cpu_cores, INT32_MAX)
        p.at_most("hardware.cpu_threads", hw.cpu_threads, INT32_MAX)
        p.at_most("hardware.ram_total_mb", hw.ram_total_mb, INT64_MAX)
        p.at_most("hardware.disk_total_gb", hw.disk_total_gb, INT64_MAX)
        p.length("hardware.architecture", hw.architecture, 20)
    if doc.os is not None:
        p.length("os.hostname", doc.os.hostname, 255, 1)
        p.length("os.version", doc.os.version, 100)
        p.length("os.build", doc.os.build, 100)
        try:
            doc.os.boot_time.astimezone(UTC)
        except OverflowError:
            p.add("os.boot_time", "date out of range")
    if doc.network is not None:
        for i, iface in enumerate(doc.network.interfaces):
            where = f"network.interfaces.{i}"
            p.length(f"{where}.interface_name", iface.interface_name, 100, 1)
            p.length(f"{where}.mac_address", iface.mac_address, 32)
            for j, addr in enumerate(iface.addresses):
                field = f"{where}.addresses.{j}.ip_address"
                p.length(field, addr.ip_address, 64, 1)
                if len(addr.ip_address) <= 64 and not _ip(addr.ip_address):
                    p.add(field, f"'{addr.ip_address[:64]}' is not an IP address")
    if doc.disks is not None:
        for i, fs in enumerate(doc.disks.filesystems):
            where = f"disks.filesystems.{i}"
            p.length(f"{where}.mountpoint", fs.mountpoint, 500, 1)
            p.length(f"{where}.device", fs.device, 255)
            p.length(f"{where}.fs_type", fs.fs_type, 50)
            for name in ("total_bytes", "used_bytes", "free_bytes"):
                p.at_most(f"{where}.{name}", getattr(fs, name), INT64_MAX)
        for i, disk in enumerate(doc.disks.block_devices):
            p.at_most(f"disks.block_devices.{i}.size_bytes", disk.size_bytes, INT64_MAX)
    if doc.software is not None:
        for i, item in enumerate(doc.software.items):
            if item.install_date is not None:
                try:
                    item.install_date.astimezone(UTC)
                except OverflowError:
                    p.add(f"software.items.{i}.install_date", "date out of range")
    if p.found:
        first = p.found[0]
        raise InvalidInput(f"{first.field}: {first.message}", problems=p.found)
