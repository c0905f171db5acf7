"""Software collector against dpkg-query itself, and a real .deb installed and removed."""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from breeze_agent.collectors import software
from breeze_agent.platform import SoftwareSource, SourceUnavailable, software_sources
from breeze_agent.platform.linux import DpkgSource, RpmSource, parse_dpkg, parse_rpm
from breeze_agent.platform.macos import MacOSPackagesSource
from breeze_agent.platform.windows import WindowsRegistrySource
from tests.agent.helpers import require_root, require_tools, sh


def _dpkg_installed() -> set[tuple[str, str]]:
    out = sh("dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\n")
    rows = [line.split("\t") for line in out.splitlines()]
    # second status letter "i" = installed ("ii", or "hi" when held)
    return {(name, version) for status, name, version in rows if status[1:2] == "i"}


def _collected(source: str = "dpkg") -> set[tuple[str, str]]:
    return {(i.name, i.version) for i in software.collect().items if i.source == source}


def test_dpkg_packages_equal_dpkg_query() -> None:
    require_tools("dpkg-query")
    for _ in range(3):  # retry if something installs packages while we look
        before = _dpkg_installed()
        collected = _collected()
        if before == _dpkg_installed():
            break
    assert collected == before
    assert collected, "dpkg lists no packages"


def test_dpkg_items_are_complete() -> None:
    require_tools("dpkg-query")
    inventory = software.collect()
    assert "dpkg" in inventory.sources
    assert inventory.unavailable == {}
    by_name = {i.name: i for i in inventory.items}
    # dpkg itself is Essential: yes on every Debian-family system
    assert by_name["dpkg"].is_system is True
    assert by_name["dpkg"].publisher
    assert by_name["dpkg"].architecture == sh("dpkg", "--print-architecture").strip()


def _build_deb(root: Path, name: str, version: str) -> Path:
    pkg = root / name
    (pkg / "DEBIAN").mkdir(parents=True)
    doc = pkg / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True)
    (doc / "README").write_text("Throwaway package built by the Breeze agent tests.\n")
    (pkg / "DEBIAN" / "control").write_text(
        f"Package: {name}\n"
        f"Version: {version}\n"
        "Architecture: all\n"
        "Maintainer: Breeze Tests <tests@breeze.invalid>\n"
        "Priority: optional\n"
        "Section: misc\n"
        "Description: Breeze agent test package\n"
        " Installed and removed again by tests/agent/test_software.py.\n"
    )
    deb = root / f"{name}.deb"
    sh("dpkg-deb", "--root-owner-group", "--build", str(pkg), str(deb))
    return deb


def _dpkg(*args: str) -> None:
    for attempt in range(10):  # another process may hold the dpkg lock for a moment
        proc = subprocess.run(["dpkg", *args], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return
        if "lock" not in proc.stderr or attempt == 9:
            raise AssertionError(f"dpkg {' '.join(args)} failed: {proc.stderr}")
        time.sleep(1)


@pytest.mark.parametrize("version", ["1.2.3", "2:0.9.1-3~rc1+b2"])
def test_installed_deb_appears_and_disappears(tmp_path: Path, version: str) -> None:
    require_root("dpkg", "dpkg-deb", "dpkg-query")
    name = f"breeze-test-pkg-{uuid.uuid4().hex[:10]}"
    deb = _build_deb(tmp_path, name, version)
    started = datetime.now(UTC).replace(microsecond=0)
    try:
        _dpkg("-i", str(deb))
        items = [i for i in software.collect().items if i.name == name]
        assert [(i.name, i.version) for i in items] == [(name, version)]
        item = items[0]
        assert item.architecture == "all"
        assert item.publisher == "Breeze Tests <tests@breeze.invalid>"
        assert item.is_system is False
        assert item.install_date is not None and item.install_date >= started
        _dpkg("-r", name)
        assert name not in {i.name for i in software.collect().items}
    finally:
        subprocess.run(["dpkg", "--purge", name], capture_output=True, check=False)
    assert (name, version) not in _dpkg_installed()


def test_rpm_source_when_present() -> None:
    source = RpmSource()
    if source.unavailable_reason() is not None:
        # rpm absent (or without a database): the source says so and is not read
        assert "rpm" not in software.collect().sources
        with pytest.raises(SourceUnavailable):
            source.installed()
        return
    out = sh("rpm", "-qa", "--queryformat", "%{NAME}\\t%{VERSION}-%{RELEASE}\\n")
    names = {line.split("\t")[0] for line in out.splitlines()} - {"gpg-pubkey"}
    assert {i.name for i in source.installed()} == names


def test_parse_dpkg_keeps_installed_rows_and_epochs() -> None:
    out = "\n".join(
        [
            "ii \tlibc6\t2.36-9+deb12u4\tamd64\tlibc6:amd64\tGNU Libc <x@y>\trequired\tno",
            "hi \tlibfoo\t1:2.0~beta1-1\ti386\tlibfoo:i386\tFoo <f@o>\toptional\t",
            "rc \told-removed\t1.0\tamd64\told-removed\tOld <o@l>\toptional\t",
            "un \tnever\t\t\tnever\t\t\t",
            "iF \thalf-configured\t3.0\tamd64\thalf-configured\tH <h@c>\toptional\t",
            "garbage line without tabs",
        ]
    )
    items = parse_dpkg(out)
    assert [(i.name, i.version, i.architecture) for i in items] == [
        ("libc6", "2.36-9+deb12u4", "amd64"),
        ("libfoo", "1:2.0~beta1-1", "i386"),
    ]
    assert items[0].is_system is True and items[1].is_system is False


def test_parse_rpm_builds_epoch_versions() -> None:
    out = "\n".join(
        [
            "bash\t(none)\t5.2.26\t1.fc40\tx86_64\tFedora Project\t1714000000",
            "perl-libs\t4\t5.38.2\t506.fc40\tx86_64\tFedora Project\t1714000001",
            "gpg-pubkey\t(none)\ta15b79cc\t63d04c2c\t(none)\t(none)\t1714000002",
        ]
    )
    items = parse_rpm(out)
    assert [(i.name, i.version) for i in items] == [
        ("bash", "5.2.26-1.fc40"),
        ("perl-libs", "4:5.38.2-506.fc40"),
    ]
    assert items[0].install_date == datetime.fromtimestamp(1714000000, tz=UTC)


def test_platform_seam_selects_sources() -> None:
    assert [s.name for s in software_sources("linux")] == ["dpkg", "rpm"]
    assert [s.name for s in software_sources("win32")] == ["windows-registry"]
    assert [s.name for s in software_sources("darwin")] == ["macos-packages"]
    assert software_sources("sunos5") == []
    for source in (DpkgSource(), RpmSource(), WindowsRegistrySource(), MacOSPackagesSource()):
        assert isinstance(source, SoftwareSource)


@pytest.mark.parametrize("source", [WindowsRegistrySource(), MacOSPackagesSource()])
def test_other_platforms_say_unavailable_instead_of_faking(source: SoftwareSource) -> None:
    reason = source.unavailable_reason()
    assert reason
    with pytest.raises(SourceUnavailable):
        source.installed()
    inventory = software.collect([source])
    assert inventory.items == []
    assert inventory.sources == []
    assert source.name in inventory.unavailable["items"]


def test_dpkg_missing_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """With dpkg-query not on PATH the section is empty and says why."""
    monkeypatch.setenv("PATH", "/nonexistent")
    inventory = software.collect([DpkgSource()])
    assert inventory.items == []
    assert "dpkg-query not installed" in inventory.unavailable["items"]
