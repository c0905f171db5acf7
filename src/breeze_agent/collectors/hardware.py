"""Hardware: CPU, memory, disks total, GPU, DMI identity, virtualization.

Sources: /proc/cpuinfo, /proc/meminfo, psutil, /sys/block, /sys/bus/pci + pci.ids,
/sys/class/dmi/id (serial and UUID need root), systemd-detect-virt, the cpuinfo
``hypervisor`` flag.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Literal

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_agent._util import Notes, Result, read_dmi, read_text, run
from breeze_agent.collectors.disks import physical_block_devices
from breeze_protocol import HardwareInfo, field_specs

SECTION = "hardware"
MODEL = HardwareInfo
FIELDS = field_specs(HardwareInfo)

_CPU_MODEL_KEYS = ("model name", "cpu model", "hardware", "model", "processor", "cpu")
_PCI_IDS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids")
# DMI sys_vendor / product_name fragments -> platform name (as systemd-detect-virt spells it).
_DMI_VIRT = (
    ("qemu", "qemu"),
    ("kvm", "kvm"),
    ("vmware", "vmware"),
    ("innotek", "oracle"),
    ("virtualbox", "oracle"),
    ("xen", "xen"),
    ("amazon ec2", "amazon"),
    ("google compute engine", "google"),
    ("parallels", "parallels"),
    ("bochs", "bochs"),
)


def _cpuinfo() -> list[dict[str, str]]:
    text, _ = read_text("/proc/cpuinfo")
    blocks: list[dict[str, str]] = []
    for chunk in (text or "").split("\n\n"):
        entry: dict[str, str] = {}
        for line in chunk.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                entry[key.strip().lower()] = value.strip()
        if entry:
            blocks.append(entry)
    return blocks


def _cpu_model(cpuinfo: list[dict[str, str]]) -> Result:
    for key in _CPU_MODEL_KEYS:
        for block in cpuinfo:
            value = block.get(key, "")
            # ARM's "processor" is an index; only take non-numeric values.
            if value and not value.isdigit():
                return value, None
    fallback = platform.processor()
    return (fallback, None) if fallback else (None, "no model in /proc/cpuinfo")


def _cpu_cores(cpuinfo: list[dict[str, str]]) -> Result:
    cores = psutil.cpu_count(logical=False)
    if cores:
        return str(cores), None
    pairs = {(b.get("physical id"), b.get("core id")) for b in cpuinfo if "core id" in b}
    if pairs:
        return str(len(pairs)), None
    return None, "physical core topology not exposed (no core id in /proc/cpuinfo)"


def _ram_total_mb() -> int:
    text, _ = read_text("/proc/meminfo")
    for line in (text or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return int(psutil.virtual_memory().total) // 2**20


def _pci_name(vendor: str, device: str) -> str | None:
    for path in _PCI_IDS:
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        vendor_name = None
        for line in lines:
            if line.startswith(vendor + " "):
                vendor_name = line[len(vendor) :].strip()
            elif vendor_name is not None:
                if line.startswith("\t" + device + " "):
                    return f"{vendor_name} {line.strip()[len(device) :].strip()}"
                if line and not line.startswith("\t") and not line.startswith("#"):
                    return vendor_name
    return None


def _gpu_model() -> Result:
    root = Path("/sys/bus/pci/devices")
    if not root.is_dir():
        return None, "no PCI bus in /sys/bus/pci"
    for dev in sorted(root.iterdir()):
        cls, _ = read_text(dev / "class")
        if not cls or not cls.startswith("0x03"):  # 0x03xxxx: display controller
            continue
        vendor = (read_text(dev / "vendor")[0] or "").removeprefix("0x")
        device = (read_text(dev / "device")[0] or "").removeprefix("0x")
        return _pci_name(vendor, device) or f"PCI device {vendor}:{device}", None
    return None, "no display controller on the PCI bus"


def _virtualization(
    cpuinfo: list[dict[str, str]], vendor: str | None, product: str | None
) -> tuple[bool | None, Literal["vm", "container"] | None, str | None, str | None]:
    """(is_virtual, type, platform, reason-if-unknown)."""
    out, _ = run(["systemd-detect-virt"], ok_codes=(0, 1))
    if out is not None and out.strip():
        name = out.strip()
        if name == "none":
            return False, None, None, None
        container, _ = run(["systemd-detect-virt", "--container"], ok_codes=(0,))
        return True, "container" if container else "vm", name, None
    if os.path.exists("/.dockerenv"):
        return True, "container", "docker", None
    if os.path.exists("/run/.containerenv"):
        return True, "container", "podman", None
    identity = f"{vendor or ''} {product or ''}".lower()
    for fragment, name in _DMI_VIRT:
        if fragment in identity:
            return True, "vm", name, None
    if "microsoft" in identity and "virtual" in identity:
        return True, "vm", "microsoft", None
    flags = cpuinfo[0].get("flags", "").split() if cpuinfo else []
    if "hypervisor" in flags:
        return True, "vm", None, "hypervisor flag set but platform not identified"
    if flags and vendor:
        return False, None, None, None
    return None, None, None, "systemd-detect-virt missing and no DMI/cpuinfo evidence"


def collect() -> HardwareInfo:
    notes = Notes()
    cpuinfo = _cpuinfo()
    cores = notes.take("cpu_cores", _cpu_cores(cpuinfo))
    threads = os.cpu_count()
    if threads is None:
        notes.note("cpu_threads", "os.cpu_count() could not tell")
    disks = physical_block_devices()
    manufacturer = notes.take("manufacturer", read_dmi("sys_vendor"))
    model = notes.take("model", read_dmi("product_name"))
    if model is None:  # ARM boards describe themselves in the device tree instead.
        dt_model, _ = read_text("/sys/firmware/devicetree/base/model")
        model = dt_model.rstrip("\x00") if dt_model else None
        if model:
            notes.reasons.pop("model", None)
    is_virtual, virt_type, virt_platform, virt_reason = _virtualization(
        cpuinfo, manufacturer, model
    )
    if virt_reason:
        notes.note("virtualization_platform", virt_reason)
    return HardwareInfo(
        cpu_model=notes.take("cpu_model", _cpu_model(cpuinfo)),
        cpu_cores=int(cores) if cores else None,
        cpu_threads=threads,
        ram_total_mb=_ram_total_mb(),
        disk_total_gb=round(sum(d.size_bytes for d in disks) / 2**30, 2) if disks else None,
        gpu_model=notes.take("gpu_model", _gpu_model()),
        serial_number=notes.take("serial_number", read_dmi("product_serial")),
        manufacturer=manufacturer,
        model=model,
        bios_version=notes.take("bios_version", read_dmi("bios_version")),
        bios_vendor=notes.take("bios_vendor", read_dmi("bios_vendor")),
        system_uuid=notes.take("system_uuid", read_dmi("product_uuid")),
        architecture=platform.machine() or "unknown",
        is_virtual=is_virtual,
        virtualization_type=virt_type,
        virtualization_platform=virt_platform,
        unavailable=notes.reasons
        | ({} if disks else {"disk_total_gb": "no physical block devices in /sys/block"}),
    )
