"""Hardware collector against the kernel's and util-linux's own answers."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from breeze_agent._util import DMI_PLACEHOLDERS
from breeze_agent.collectors import hardware
from breeze_protocol import HardwareInfo
from tests.agent.helpers import meminfo_kb, require_tools, sh


@pytest.fixture(scope="module")
def info() -> HardwareInfo:
    return hardware.collect()


def test_cpu_threads_is_os_cpu_count(info: HardwareInfo) -> None:
    assert info.cpu_threads == os.cpu_count()


def test_cpu_cores_match_lscpu(info: HardwareInfo) -> None:
    require_tools("lscpu")
    rows = [line for line in sh("lscpu", "-p=CORE,SOCKET").splitlines() if not line.startswith("#")]
    assert info.cpu_cores == len(set(rows))


def test_cpu_model_matches_lscpu(info: HardwareInfo) -> None:
    require_tools("lscpu")
    fields = dict(line.split(":", 1) for line in sh("lscpu").splitlines() if ":" in line)
    model = fields.get("Model name", "").strip()
    if model and model != "-":
        assert info.cpu_model == model


def test_ram_total_is_memtotal(info: HardwareInfo) -> None:
    assert info.ram_total_mb == meminfo_kb("MemTotal") // 1024


def test_disk_total_is_sum_of_lsblk_disks(info: HardwareInfo) -> None:
    require_tools("lsblk")
    total = 0
    for line in sh("lsblk", "-b", "-d", "-n", "-o", "NAME,SIZE,TYPE").splitlines():
        name, size, kind = line.split()
        # zram and loop devices are RAM or files, not disks
        if kind == "disk" and not name.startswith(("zram", "loop")) and int(size) > 0:
            total += int(size)
    assert info.disk_total_gb == (round(total / 2**30, 2) if total else None)


@pytest.mark.parametrize(
    ("field", "dmi_file"),
    [
        ("serial_number", "product_serial"),
        ("manufacturer", "sys_vendor"),
        ("bios_version", "bios_version"),
        ("bios_vendor", "bios_vendor"),
        ("system_uuid", "product_uuid"),
    ],
)
def test_dmi_fields_are_the_file_or_explained(
    info: HardwareInfo, field: str, dmi_file: str
) -> None:
    path = Path("/sys/class/dmi/id") / dmi_file
    value = getattr(info, field)
    try:
        expected = path.read_text().strip()
    except OSError:
        expected = None
    if expected and expected.lower() not in DMI_PLACEHOLDERS:
        assert value == expected
    else:
        assert value is None
        assert info.unavailable[field]  # the reason is written down, not swallowed


def test_virtualization_matches_systemd_detect_virt(info: HardwareInfo) -> None:
    require_tools("systemd-detect-virt")
    answer = sh("systemd-detect-virt", check=False).strip()
    if answer == "none":
        assert info.is_virtual is False
        assert info.virtualization_platform is None
    else:
        assert info.is_virtual is True
        assert info.virtualization_platform == answer
        in_container = sh("systemd-detect-virt", "--container", check=False).strip() != "none"
        assert info.virtualization_type == ("container" if in_container else "vm")


def test_architecture_is_uname(info: HardwareInfo) -> None:
    assert info.architecture == platform.machine() == sh("uname", "-m").strip()


def test_every_null_field_has_a_reason(info: HardwareInfo) -> None:
    nullable = {"gpu_model", "serial_number", "manufacturer", "model", "bios_version"}
    for name in nullable:
        if getattr(info, name) is None:
            assert name in info.unavailable, name
