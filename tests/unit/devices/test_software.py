"""Naming packages and diffing package lists."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from breeze.core.errors import InvalidInput
from breeze.devices.software import Package, StoredPackage, diff_software, packages
from breeze_protocol import SoftwareItem


def item(name: str, version: str = "1.0", arch: str | None = "amd64", **kw: object) -> SoftwareItem:
    return SoftwareItem.model_validate(
        {"name": name, "version": version, "architecture": arch, "source": "dpkg", **kw}
    )


def stored(*pkgs: Package) -> list[StoredPackage]:
    return [
        StoredPackage(
            id=uuid.uuid4(),
            source=p.source,
            name=p.name,
            version=p.version,
            publisher=p.publisher,
            install_date=p.install_date,
            install_location=p.install_location,
            is_system=p.is_system,
        )
        for p in pkgs
    ]


def test_foreign_architectures_keep_their_suffix() -> None:
    pkgs = packages(
        [item("libc6"), item("libc6", arch="i386"), item("bash"), item("tzdata", arch="all")]
    )
    assert sorted(p.name for p in pkgs) == ["bash", "libc6", "libc6:i386", "tzdata"]


def test_install_dates_become_utc_dates_and_long_text_is_cut() -> None:
    (pkg,) = packages(
        [
            item(
                "x",
                install_date=datetime(2024, 5, 1, 23, 30, tzinfo=UTC),
                publisher="p" * 400,
                install_location="/opt/" + "l" * 600,
            )
        ]
    )
    assert pkg.install_date == date(2024, 5, 1)
    assert pkg.publisher is not None and len(pkg.publisher) == 255
    assert pkg.install_location is not None and len(pkg.install_location) == 500


def test_unstorable_names_are_refused_with_their_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        packages([item("ok"), item("n" * 256)])
    assert exc.value.problems[0].field == "software.items.1.name"
    with pytest.raises(InvalidInput) as exc:
        packages([item("ok", version="v" * 256)])
    assert exc.value.problems[0].field == "software.items.0.version"


def test_a_new_version_is_an_update_and_the_rest_is_added_or_removed() -> None:
    old = stored(*packages([item("bash", "5.1"), item("vim", "9.0"), item("curl", "7.88")]))
    new = packages([item("bash", "5.2"), item("curl", "7.88"), item("htop", "3.2")])
    diff = diff_software(old, new)
    assert {(c.change_type, c.subject) for c in diff.changes} == {
        ("updated", "bash"),
        ("removed", "vim"),
        ("added", "htop"),
    }
    bash = next(c for c in diff.changes if c.subject == "bash")
    assert (bash.old, bash.new) == (
        {"version": "5.1", "source": "dpkg"},
        {"version": "5.2", "source": "dpkg"},
    )
    assert [p.name for p in diff.insert] == ["htop"]
    assert diff.delete == [next(p.id for p in old if p.name == "vim")]
    assert [(i, p.version) for i, p in diff.update] == [(old[0].id, "5.2")]


def test_side_by_side_versions_are_added_and_removed_one_by_one() -> None:
    old = stored(
        *packages([item("kernel", "6.1", source="rpm"), item("kernel", "6.2", source="rpm")])
    )
    new = packages([item("kernel", "6.2", source="rpm"), item("kernel", "6.3", source="rpm")])
    diff = diff_software(old, new)
    assert sorted((c.change_type, c.new or c.old) for c in diff.changes) == [  # type: ignore[type-var]
        ("added", {"version": "6.3", "source": "rpm"}),
        ("removed", {"version": "6.1", "source": "rpm"}),
    ]


def test_identical_lists_change_nothing_and_details_update_silently() -> None:
    pkgs = packages([item("bash", "5.2"), item("vim", "9.0")])
    assert diff_software(stored(*pkgs), pkgs).changes == []
    assert diff_software(stored(*pkgs), pkgs).update == []
    moved = packages([item("bash", "5.2", publisher="Someone"), item("vim", "9.0")])
    diff = diff_software(stored(*pkgs), moved)
    assert diff.changes == [] and len(diff.update) == 1


def test_the_baseline_writes_rows_without_history() -> None:
    diff = diff_software([], packages([item("bash"), item("vim")]), record=False)
    assert diff.changes == [] and len(diff.insert) == 2
