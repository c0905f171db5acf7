"""Disks collector against /proc/mounts, df and lsblk."""

from __future__ import annotations

import pytest

from breeze_agent.collectors import disks
from breeze_protocol import DisksInfo
from tests.agent.helpers import require_tools, sh


@pytest.fixture(scope="module")
def info() -> DisksInfo:
    return disks.collect()


def _device_backed_types() -> set[str]:
    with open("/proc/filesystems", encoding="ascii") as fh:
        return {ln.split()[-1] for ln in fh if ln.strip() and not ln.startswith("nodev")}


def _real_mounts() -> dict[str, tuple[str, str]]:
    """mountpoint -> (device, fstype) for device-backed filesystems; last mount wins."""
    kinds = _device_backed_types()
    mounts: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        for line in fh:
            device, mountpoint, fstype = line.split()[:3]
            if fstype in kinds:
                mountpoint = mountpoint.replace("\\040", " ")
                mounts[mountpoint] = (device, fstype)
    return mounts


def test_filesystems_are_the_real_mounts(info: DisksInfo) -> None:
    mounts = _real_mounts()
    assert {f.mountpoint for f in info.filesystems} == set(mounts)
    for fs in info.filesystems:
        assert (fs.device, fs.fs_type) == mounts[fs.mountpoint]


def test_sizes_match_df(info: DisksInfo) -> None:
    require_tools("df")
    for fs in info.filesystems:
        out = sh("df", "-k", "--output=size,used,avail", fs.mountpoint).splitlines()[1]
        size_k, used_k, avail_k = (int(x) for x in out.split())
        assert fs.total_bytes == size_k * 1024, fs.mountpoint
        # used/free move while the machine works; allow 256 MiB of drift
        assert abs(fs.used_bytes - used_k * 1024) <= 256 * 2**20, fs.mountpoint
        assert abs(fs.free_bytes - avail_k * 1024) <= 256 * 2**20, fs.mountpoint
        assert 0 <= fs.percent_used <= 100


def test_block_devices_match_lsblk(info: DisksInfo) -> None:
    require_tools("lsblk")
    expected = {}
    for line in sh("lsblk", "-b", "-d", "-n", "-o", "NAME,SIZE,TYPE").splitlines():
        name, size, kind = line.split()
        if kind == "disk" and not name.startswith(("zram", "loop")) and int(size) > 0:
            expected[name] = int(size)
    assert {d.name: d.size_bytes for d in info.block_devices} == expected


def test_read_only_flag_matches_mount_options(info: DisksInfo) -> None:
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        options = {ln.split()[1]: ln.split()[3].split(",") for ln in fh}
    for fs in info.filesystems:
        assert fs.read_only == ("ro" in options[fs.mountpoint])
