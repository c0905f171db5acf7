"""Windows software source: not available yet.

The real implementation will read the Uninstall keys (HKLM and HKCU, both registry views)
and MSI product codes. Until it exists and is tested on Windows it reports itself as
unavailable instead of pretending.
"""

from __future__ import annotations

import sys

from breeze_agent.platform import SourceUnavailable
from breeze_protocol import SoftwareItem


class WindowsRegistrySource:
    name = "windows-registry"

    def unavailable_reason(self) -> str | None:
        if sys.platform != "win32":
            return "the Windows registry exists only on Windows"
        return "Windows registry / MSI inventory is not implemented in this agent version"

    def installed(self) -> list[SoftwareItem]:
        raise SourceUnavailable(self.unavailable_reason() or "unavailable")
