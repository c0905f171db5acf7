"""Installed software, through the platform's package sources.

Sources: ``dpkg-query -W`` (Debian family), ``rpm -qa`` when rpm and its database exist; the
Windows registry / MSI and macOS receipts sit behind the same seam (breeze_agent.platform)
and report themselves unavailable until implemented.
"""

from __future__ import annotations

from breeze_agent.platform import SoftwareSource, SourceUnavailable, software_sources
from breeze_protocol import SoftwareInventory, SoftwareItem, field_specs

SECTION = "software"
MODEL = SoftwareInventory
FIELDS = field_specs(SoftwareInventory)
ITEM_FIELDS = field_specs(SoftwareItem)


def collect(sources: list[SoftwareSource] | None = None) -> SoftwareInventory:
    sources = software_sources() if sources is None else sources
    items: list[SoftwareItem] = []
    read: list[str] = []
    skipped: list[str] = []
    failed: list[str] = []
    for source in sources:
        reason = source.unavailable_reason()
        if reason:
            skipped.append(f"{source.name}: {reason}")
            continue
        try:
            found = source.installed()
        except SourceUnavailable as exc:
            failed.append(f"{source.name}: {exc}")
            continue
        read.append(source.name)
        items.extend(found)
    unavailable: dict[str, str] = {}
    if failed:
        unavailable["items"] = "; ".join(failed)
    elif not read:
        unavailable["items"] = "; ".join(skipped) or "no package source for this platform"
    items.sort(key=lambda i: (i.name, i.architecture or "", i.source))
    return SoftwareInventory(sources=read, items=items, unavailable=unavailable)
