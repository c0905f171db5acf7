"""OS collector against uname, /proc, os-release and the zone database."""

from __future__ import annotations

import platform
import socket
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import psutil  # type: ignore[import-untyped]
import pytest

from breeze_agent.collectors import os_info
from breeze_protocol import OsInfo
from tests.agent.helpers import sh


@pytest.fixture(scope="module")
def info() -> OsInfo:
    return os_info.collect()


def _os_release(var: str) -> str:
    return sh("sh", "-c", f'. /etc/os-release && printf %s "${var}"')


def test_kernel_is_platform_release(info: OsInfo) -> None:
    assert info.kernel == platform.release() == sh("uname", "-r").strip()


def test_boot_time_matches_psutil_and_proc_stat(info: OsInfo) -> None:
    assert abs(info.boot_time.timestamp() - psutil.boot_time()) <= 2
    with open("/proc/stat", encoding="ascii") as fh:
        btime = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
    assert abs(info.boot_time.timestamp() - btime) <= 2
    offset = info.boot_time.utcoffset()
    assert offset is not None
    assert offset.total_seconds() == 0


def test_uptime_matches_proc_uptime(info: OsInfo) -> None:
    with open("/proc/uptime", encoding="ascii") as fh:
        uptime = float(fh.read().split()[0])
    assert abs(info.uptime_seconds - uptime) <= 5


def test_name_and_version_from_os_release(info: OsInfo) -> None:
    assert info.os_type == "linux"
    assert info.name == (_os_release("PRETTY_NAME") or _os_release("NAME"))
    assert info.version == (_os_release("VERSION_ID") or None)


def test_build_is_build_id_or_point_release(info: OsInfo) -> None:
    build_id = _os_release("BUILD_ID")
    if build_id:
        assert info.build == build_id
    else:
        try:
            with open("/etc/debian_version", encoding="ascii") as fh:
                assert info.build == fh.read().strip()
        except FileNotFoundError:
            assert info.build is None
            assert info.unavailable["build"]


def test_hostname(info: OsInfo) -> None:
    assert info.hostname == socket.gethostname() == sh("hostname").strip()


def test_timezone_is_a_real_zone_with_the_right_offset(info: OsInfo) -> None:
    assert info.timezone is not None, info.unavailable.get("timezone")
    zone = ZoneInfo(info.timezone)
    offset = datetime.now(zone).utcoffset()
    assert offset is not None
    assert int(offset.total_seconds()) // 60 == info.utc_offset_minutes
    assert time.localtime().tm_gmtoff // 60 == info.utc_offset_minutes


def test_timezone_matches_etc_timezone_or_localtime_link(info: OsInfo) -> None:
    try:
        with open("/etc/timezone", encoding="ascii") as fh:
            assert info.timezone == fh.read().strip()
    except FileNotFoundError:
        target = sh("readlink", "/etc/localtime", check=False).strip()
        if "zoneinfo/" in target:
            assert info.timezone == target.split("zoneinfo/", 1)[1]


def test_domain_and_workgroup_are_values_or_explained(info: OsInfo) -> None:
    for field in ("domain", "workgroup", "fqdn"):
        if getattr(info, field) is None:
            assert info.unavailable[field]
    if info.fqdn:
        assert info.domain == info.fqdn.split(".", 1)[1]
