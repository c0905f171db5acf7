"""Linux software sources: dpkg (Debian, Ubuntu ...) and rpm (Fedora, RHEL, SUSE ...)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime

from breeze_agent._util import run
from breeze_agent.platform import SourceUnavailable
from breeze_protocol import SoftwareItem

DPKG_ADMINDIR = "/var/lib/dpkg"
# One line per package; fields are tab separated and never contain tabs or newlines.
DPKG_FORMAT = (
    "${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${binary:Package}"
    "\\t${Maintainer}\\t${Priority}\\t${Essential}\\n"
)
RPM_FORMAT = (
    "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{VENDOR}\\t%{INSTALLTIME}\\n"
)
RPM_DATABASES = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")


def _none_if(value: str, *empty: str) -> str | None:
    value = value.strip()
    return None if not value or value in empty else value


def _dpkg_install_date(binary_package: str, package: str) -> datetime | None:
    """dpkg keeps no install date; the file list's mtime is when it was last unpacked."""
    for stem in (binary_package, package):
        try:
            mtime = os.stat(f"{DPKG_ADMINDIR}/info/{stem}.list").st_mtime
        except OSError:
            continue
        return datetime.fromtimestamp(mtime, tz=UTC)
    return None


def parse_dpkg(output: str) -> list[SoftwareItem]:
    """Rows of ``dpkg-query -W -f=DPKG_FORMAT`` whose status says installed.

    ``db:Status-Abbrev`` is three letters: wanted, status, error. The second letter ``i``
    means installed (``ii`` normally, ``hi`` when held); ``rc``, ``un``, half-installed
    and half-configured packages are not installed.
    """
    items: list[SoftwareItem] = []
    for line in output.splitlines():
        cols = line.split("\t")
        if len(cols) != 8:
            continue
        status, name, version, arch, binary, maintainer, priority, essential = cols
        if len(status) < 2 or status[1] != "i" or not name or not version:
            continue
        items.append(
            SoftwareItem(
                name=name,
                version=version,
                architecture=_none_if(arch),
                publisher=_none_if(maintainer),
                install_date=_dpkg_install_date(binary, name),
                is_system=essential.strip() == "yes" or priority in ("required", "important"),
                source="dpkg",
            )
        )
    return items


def parse_rpm(output: str) -> list[SoftwareItem]:
    """Rows of ``rpm -qa --queryformat RPM_FORMAT``; version is ``[epoch:]version-release``."""
    items: list[SoftwareItem] = []
    for line in output.splitlines():
        cols = line.split("\t")
        if len(cols) != 7 or cols[0] in ("", "gpg-pubkey"):  # gpg-pubkey: imported keys
            continue
        name, epoch, version, release, arch, vendor, installed = cols
        full = version if release in ("", "(none)") else f"{version}-{release}"
        if epoch not in ("", "(none)", "0"):
            full = f"{epoch}:{full}"
        stamp = datetime.fromtimestamp(int(installed), tz=UTC) if installed.isdigit() else None
        items.append(
            SoftwareItem(
                name=name,
                version=full,
                architecture=_none_if(arch, "(none)"),
                publisher=_none_if(vendor, "(none)"),
                install_date=stamp,
                source="rpm",
            )
        )
    return items


class DpkgSource:
    name = "dpkg"

    def unavailable_reason(self) -> str | None:
        if shutil.which("dpkg-query") is None:
            return "dpkg-query not installed"
        if not os.path.exists(f"{DPKG_ADMINDIR}/status"):
            return f"no dpkg database ({DPKG_ADMINDIR}/status absent)"
        return None

    def installed(self) -> list[SoftwareItem]:
        reason = self.unavailable_reason()
        if reason:
            raise SourceUnavailable(reason)
        out, reason = run(["dpkg-query", "-W", f"-f={DPKG_FORMAT}"], timeout=120)
        if out is None:
            raise SourceUnavailable(reason or "dpkg-query failed")
        return parse_dpkg(out)


class RpmSource:
    name = "rpm"

    def unavailable_reason(self) -> str | None:
        if shutil.which("rpm") is None:
            return "rpm not installed"
        if not any(os.path.isdir(d) for d in RPM_DATABASES):
            return "rpm is installed but has no package database"
        return None

    def installed(self) -> list[SoftwareItem]:
        reason = self.unavailable_reason()
        if reason:
            raise SourceUnavailable(reason)
        out, reason = run(["rpm", "-qa", "--queryformat", RPM_FORMAT], timeout=120)
        if out is None:
            raise SourceUnavailable(reason or "rpm -qa failed")
        return parse_rpm(out)
