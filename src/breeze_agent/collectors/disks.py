"""Disks and filesystems.

Sources: /sys/block (physical disks: entries backed by a device, sizes in 512-byte sectors,
model/vendor/serial/rotational/removable attributes), psutil.disk_partitions(all=False)
(mounts of device-backed filesystem types, i.e. those not marked ``nodev`` in
/proc/filesystems) and statvfs through psutil.disk_usage.
"""

from __future__ import annotations

from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_agent._util import read_text
from breeze_protocol import BlockDevice, DisksInfo, Filesystem, field_specs

SECTION = "disks"
MODEL = DisksInfo
FIELDS = field_specs(DisksInfo)

_SKIP_PREFIXES = ("sr", "fd")  # optical and floppy drives: media, not disks


def _flag(path: Path) -> bool | None:
    value, _ = read_text(path)
    return None if value is None else value == "1"


def physical_block_devices(root: str = "/sys/block") -> list[BlockDevice]:
    """Disks backed by hardware (or a hypervisor's virtual disk); loop, zram, dm, md excluded."""
    base = Path(root)
    if not base.is_dir():
        return []
    devices: list[BlockDevice] = []
    for entry in sorted(base.iterdir()):
        if not (entry / "device").exists() or entry.name.startswith(_SKIP_PREFIXES):
            continue
        sectors, _ = read_text(entry / "size")
        if not sectors or not sectors.isdigit() or int(sectors) == 0:
            continue
        serial = read_text(entry / "serial")[0] or read_text(entry / "device" / "serial")[0]
        devices.append(
            BlockDevice(
                name=entry.name,
                size_bytes=int(sectors) * 512,  # /sys/block/*/size is always 512-byte units
                model=read_text(entry / "device" / "model")[0],
                vendor=read_text(entry / "device" / "vendor")[0],
                serial_number=serial,
                rotational=_flag(entry / "queue" / "rotational"),
                removable=_flag(entry / "removable"),
            )
        )
    return devices


def filesystems(unreadable: dict[str, str] | None = None) -> list[Filesystem]:
    """Mounted device-backed filesystems; the last mount on a mountpoint is the visible one."""
    by_mount: dict[str, Filesystem] = {}
    for part in psutil.disk_partitions(all=False):
        mountpoint = str(part.mountpoint)
        try:
            usage = psutil.disk_usage(mountpoint)
        except OSError as exc:
            if unreadable is not None:
                unreadable[mountpoint] = f"statvfs failed: {exc.strerror or exc}"
            continue
        by_mount[mountpoint] = Filesystem(
            device=str(part.device),
            mountpoint=mountpoint,
            fs_type=str(part.fstype),
            read_only="ro" in str(part.opts).split(","),
            total_bytes=int(usage.total),
            used_bytes=int(usage.used),
            free_bytes=int(usage.free),
            percent_used=float(usage.percent),
        )
    return sorted(by_mount.values(), key=lambda f: f.mountpoint)


def collect() -> DisksInfo:
    unavailable: dict[str, str] = {}
    devices = physical_block_devices()
    if not devices:
        unavailable["block_devices"] = "no device-backed entries in /sys/block"
    failed: dict[str, str] = {}
    mounted = filesystems(failed)
    if failed:
        unavailable["filesystems"] = "; ".join(f"{m}: {r}" for m, r in sorted(failed.items()))
    return DisksInfo(block_devices=devices, filesystems=mounted, unavailable=unavailable)
