"""macOS software source: not available yet.

The real implementation will list application bundles and ``pkgutil`` receipts. Until it
exists and is tested on macOS it reports itself as unavailable instead of pretending.
"""

from __future__ import annotations

import sys

from breeze_agent.platform import SourceUnavailable
from breeze_protocol import SoftwareItem


class MacOSPackagesSource:
    name = "macos-packages"

    def unavailable_reason(self) -> str | None:
        if sys.platform != "darwin":
            return "macOS package receipts exist only on macOS"
        return "macOS software inventory is not implemented in this agent version"

    def installed(self) -> list[SoftwareItem]:
        raise SourceUnavailable(self.unavailable_reason() or "unavailable")
