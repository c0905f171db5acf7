"""Platform seam: where the agent gets what differs between operating systems.

``SoftwareSource`` is the software-inventory seam. Linux has real implementations (dpkg, rpm);
Windows (registry uninstall keys, MSI product codes) and macOS (application bundles,
pkgutil receipts) are explicit "not available" classes until they are written and tested on
those systems: they never invent data.
"""

from __future__ import annotations

import sys
from typing import Protocol, runtime_checkable

from breeze_protocol import SoftwareItem


class SourceUnavailable(Exception):
    """The source cannot be read here; the message says why."""


@runtime_checkable
class SoftwareSource(Protocol):
    """Lists installed software from one package database."""

    name: str

    def unavailable_reason(self) -> str | None:
        """``None`` when the source can be read on this machine, otherwise why not."""
        ...

    def installed(self) -> list[SoftwareItem]:
        """Every installed package; raises ``SourceUnavailable`` when it cannot be read."""
        ...


def software_sources(platform: str = sys.platform) -> list[SoftwareSource]:
    """The sources that apply to ``platform`` (a ``sys.platform`` value), in order."""
    if platform.startswith("linux"):
        from breeze_agent.platform.linux import DpkgSource, RpmSource

        return [DpkgSource(), RpmSource()]
    if platform == "win32":
        from breeze_agent.platform.windows import WindowsRegistrySource

        return [WindowsRegistrySource()]
    if platform == "darwin":
        from breeze_agent.platform.macos import MacOSPackagesSource

        return [MacOSPackagesSource()]
    return []


__all__ = ["SoftwareSource", "SourceUnavailable", "software_sources"]
