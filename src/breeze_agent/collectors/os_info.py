"""Operating system: name, version, build, kernel, boot time, time zone, domain, workgroup.

Sources: /etc/os-release (or /usr/lib/os-release), /etc/debian_version, platform,
psutil.boot_time (the kernel's btime in /proc/stat), /etc/timezone or the /etc/localtime
link, the host's FQDN and /etc/resolv.conf, Samba's smb.conf.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Literal

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_agent._util import Notes, Result, parse_key_values, read_text
from breeze_protocol import OsInfo, field_specs

SECTION = "os"
MODEL = OsInfo
FIELDS = field_specs(OsInfo)


def os_type() -> Literal["linux", "windows", "macos", "other"]:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "other"


def _os_release() -> dict[str, str]:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text, _ = read_text(path)
        if text:
            return parse_key_values(text)
    return {}


def _build(release: dict[str, str]) -> Result:
    if release.get("BUILD_ID"):
        return release["BUILD_ID"], None
    debian, _ = read_text("/etc/debian_version")  # point release, e.g. 12.5
    if debian and debian[0].isdigit():
        return debian, None
    if os_type() == "windows":
        return platform.version().rsplit(".", 1)[-1], None
    if os_type() == "macos":
        return platform.mac_ver()[0] or None, "macOS build not reported"
    return None, "no BUILD_ID in os-release and no distribution point release file"


def timezone_name() -> Result:
    """IANA zone: /etc/timezone, the /etc/localtime link, then $TZ."""
    text, _ = read_text("/etc/timezone")
    if text:
        return text.splitlines()[0].strip(), None
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1], None
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        return tz, None
    return None, "no /etc/timezone, /etc/localtime is not a zoneinfo link, TZ unset"


def _fqdn(hostname: str, timeout: float = 3.0) -> Result:
    """The resolver's canonical name, bounded in time (a broken resolver must not stall us)."""
    found: list[str] = []
    worker = threading.Thread(target=lambda: found.append(socket.getfqdn(hostname)), daemon=True)
    worker.start()
    worker.join(timeout)
    if not found:
        return None, f"name lookup of {hostname!r} did not answer within {timeout:g}s"
    name = found[0].rstrip(".")
    if "." not in name or name.startswith("localhost"):
        return None, f"{hostname!r} resolves to {name!r}, no domain"
    return name, None


def _resolv_domain() -> Result:
    text, reason = read_text("/etc/resolv.conf")
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("domain", "search") and parts[1] != ".":
            return parts[1], None
    return None, reason or "no domain or search line in /etc/resolv.conf"


def _workgroup() -> Result:
    text, reason = read_text("/etc/samba/smb.conf")
    if text is None:
        return None, f"Samba not configured ({reason})"
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
        elif section == "global" and "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            if key.strip().lower() == "workgroup":
                return value.strip(), None
    return None, "no workgroup in the [global] section of /etc/samba/smb.conf"


def boot_time() -> datetime:
    return datetime.fromtimestamp(psutil.boot_time(), tz=UTC)


def collect() -> OsInfo:
    notes = Notes()
    kind = os_type()
    release = _os_release() if kind == "linux" else {}
    name = release.get("PRETTY_NAME") or release.get("NAME") or platform.system() or kind
    version = release.get("VERSION_ID") or (platform.version() if kind != "linux" else None)
    if version is None:
        notes.note("version", "no VERSION_ID in os-release (rolling release?)")
    hostname = socket.gethostname()
    fqdn = notes.take("fqdn", _fqdn(hostname))
    domain: str | None = fqdn.split(".", 1)[1] if fqdn else None
    if domain is None:
        domain = notes.take("domain", _resolv_domain())
    booted = boot_time()
    now = datetime.now(UTC)
    return OsInfo(
        os_type=kind,
        name=name,
        version=version,
        build=notes.take("build", _build(release)),
        kernel=platform.release(),
        kernel_version=platform.version() or None,
        architecture=platform.machine() or "unknown",
        hostname=hostname,
        fqdn=fqdn,
        boot_time=booted,
        uptime_seconds=max(0, int((now - booted).total_seconds())),
        timezone=notes.take("timezone", timezone_name()),
        utc_offset_minutes=time.localtime().tm_gmtoff // 60,
        domain=domain,
        workgroup=notes.take("workgroup", _workgroup()),
        unavailable=notes.reasons,
    )
