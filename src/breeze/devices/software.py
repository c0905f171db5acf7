"""Installed software: naming packages and diffing two package lists (pure functions).

A package is identified by (source, name, version). Most packages have one version per
name, and a new version of the same name is an *update*; a name installed in several
versions side by side (kernels under rpm) gets *added*/*removed* rows per version.

DeviceSoftware has no architecture column, so a package of a foreign architecture keeps
it in its name (``libc6:i386``, as dpkg prints it); packages of the source's main
architecture or of none (all/noarch) keep their plain name.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date

from breeze.core.errors import InvalidInput
from breeze.devices.changes import Change
from breeze_protocol import SoftwareItem

NEUTRAL_ARCHITECTURES = frozenset({"all", "noarch", "any", ""})
NAME_MAX = 255
VERSION_MAX = 255
SOURCE_MAX = 20
PUBLISHER_MAX = 255
LOCATION_MAX = 500


@dataclass(slots=True)
class Package:
    source: str
    name: str
    version: str
    publisher: str | None = None
    install_date: date | None = None
    install_location: str | None = None
    is_system: bool = False

    @property
    def details(self) -> tuple[str | None, date | None, str | None, bool]:
        return (self.publisher, self.install_date, self.install_location, self.is_system)


@dataclass(slots=True)
class StoredPackage(Package):
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass
class SoftwareDiff:
    insert: list[Package] = field(default_factory=list)
    delete: list[uuid.UUID] = field(default_factory=list)
    update: list[tuple[uuid.UUID, Package]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def _native(items: Sequence[SoftwareItem]) -> dict[str, str]:
    """source -> its most common (non-neutral) architecture."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        if item.architecture and item.architecture not in NEUTRAL_ARCHITECTURES:
            counts[item.source][item.architecture] += 1
    return {source: c.most_common(1)[0][0] for source, c in counts.items()}


def packages(items: Sequence[SoftwareItem], field_prefix: str = "software.items") -> list[Package]:
    """The rows to store for a software section; refuses names that cannot be stored."""
    native = _native(items)
    found: dict[tuple[str, str, str], Package] = {}
    for index, item in enumerate(items):
        arch = item.architecture or ""
        name = item.name
        if arch not in NEUTRAL_ARCHITECTURES and arch != native.get(item.source):
            name = f"{name}:{arch}"
        where = f"{field_prefix}.{index}"
        if not item.name.strip():
            raise InvalidInput("a package name cannot be empty", field=f"{where}.name")
        if len(name) > NAME_MAX:
            raise InvalidInput(f"longer than {NAME_MAX} characters", field=f"{where}.name")
        if len(item.version) > VERSION_MAX:
            raise InvalidInput(f"longer than {VERSION_MAX} characters", field=f"{where}.version")
        if not item.source or len(item.source) > SOURCE_MAX:
            raise InvalidInput(f"must be 1-{SOURCE_MAX} characters", field=f"{where}.source")
        stamp = item.install_date.astimezone(UTC).date() if item.install_date else None
        package = Package(
            source=item.source,
            name=name,
            version=item.version,
            publisher=item.publisher[:PUBLISHER_MAX] if item.publisher else None,
            install_date=stamp,
            install_location=(item.install_location or None)
            and item.install_location[:LOCATION_MAX],
            is_system=item.is_system,
        )
        found[(package.source, package.name, package.version)] = package
    return list(found.values())


def _grouped(rows: Iterable[Package]) -> dict[tuple[str, str], dict[str, Package]]:
    groups: dict[tuple[str, str], dict[str, Package]] = defaultdict(dict)
    for row in rows:
        groups[(row.source, row.name)][row.version] = row
    return groups


def _version(pkg: Package) -> dict[str, str]:
    return {"version": pkg.version, "source": pkg.source}


def diff_software(
    stored: Iterable[StoredPackage], new: Iterable[Package], *, record: bool = True
) -> SoftwareDiff:
    """Rows to insert, delete and update to turn `stored` into `new`, and the history.

    `record=False` (the baseline) computes the same writes without history rows.
    """
    before = _grouped(stored)
    after = _grouped(new)
    diff = SoftwareDiff()
    for key in sorted(before.keys() | after.keys()):
        old, now = before.get(key, {}), after.get(key, {})
        if len(old) == 1 and len(now) == 1 and old.keys() != now.keys():
            (was,), (pkg,) = old.values(), now.values()
            assert isinstance(was, StoredPackage)
            diff.update.append((was.id, pkg))
            if record:
                diff.changes.append(
                    Change("software", "updated", key[1], _version(was), _version(pkg))
                )
            continue
        for version in sorted(now.keys() - old.keys()):
            diff.insert.append(now[version])
            if record:
                diff.changes.append(
                    Change("software", "added", key[1], None, _version(now[version]))
                )
        for version in sorted(old.keys() - now.keys()):
            row = old[version]
            assert isinstance(row, StoredPackage)
            diff.delete.append(row.id)
            if record:
                diff.changes.append(Change("software", "removed", key[1], _version(row), None))
        for version in old.keys() & now.keys():
            row = old[version]
            assert isinstance(row, StoredPackage)
            if row.details != now[version].details:
                diff.update.append((row.id, now[version]))
    return diff
