"""Inventory ingest against a real server, with documents from this machine's collectors.

What is stored is checked against the operating system's own answers (dpkg-query -W,
/proc/meminfo, os.cpu_count(), ip -j addr), and every history row is checked exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from breeze_agent.collectors import collect_inventory
from tests.factories import ok
from tests.integration.devices.agents import Agent, inventory, real_inventory
from tests.integration.devices.conftest import all_software, changes


def dpkg_packages() -> dict[str, str]:
    """Installed packages as dpkg-query -W lists them (architecture suffix dropped)."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query is not available on this machine")
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${binary:Package}\t${Version}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        status, package, version = line.split("\t")
        if status[1:2] == "i":
            found[package.split(":")[0]] = version
    return found


def kernel_addresses() -> set[tuple[str, str]]:
    links = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, check=True).stdout)
    return {
        (link["ifname"], a["local"])
        for link in links
        for a in link.get("addr_info", [])
        if a.get("family") in ("inet", "inet6")
    }


def mem_total_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no MemTotal")


def delta(**sections: Any) -> dict[str, Any]:
    base = real_inventory()
    return {
        "protocol_version": 1,
        "mode": "delta",
        "agent_version": base["agent_version"],
        "collected_at": datetime.now(UTC).isoformat(),
        **sections,
    }


def test_a_full_inventory_fills_every_table(agent: Agent, admin: httpx.Client) -> None:
    doc = collect_inventory().model_dump(mode="json")
    expected_packages = dpkg_packages()
    assert agent.send(doc) == 1  # the baseline row, nothing per package
    device = agent.device_id

    software = all_software(admin, device)
    assert len(software) == len(expected_packages)
    assert {s["name"]: s["version"] for s in software} == expected_packages
    assert {s["source"] for s in software} == {"dpkg"}

    hw = ok(admin.get(f"/api/v1/devices/{device}/hardware"))
    assert hw["cpu_threads"] == os.cpu_count()
    assert hw["ram_total_mb"] == mem_total_mb()
    for name in ("cpu_model", "cpu_cores", "disk_total_gb", "serial_number", "manufacturer"):
        assert hw[name] == doc["hardware"][name], name
    assert hw["architecture"] == doc["hardware"]["architecture"]
    assert hw["unavailable"] == doc["hardware"]["unavailable"]

    net = ok(admin.get(f"/api/v1/devices/{device}/network"))
    stored = {
        (i["interface_name"], a["ip_address"]) for i in net["interfaces"] for a in i["addresses"]
    }
    assert stored == kernel_addresses()
    assert {i["interface_name"]: i["mac_address"] for i in net["interfaces"]} == {
        i["interface_name"]: i["mac_address"] for i in doc["network"]["interfaces"]
    }
    primary = [i for i in net["interfaces"] if i["is_primary"]]
    assert [i["interface_name"] for i in primary] == [doc["network"]["primary_interface"]]
    assert net["default_gateway_ipv4"] == doc["network"]["default_gateway_ipv4"]
    assert net["primary_ip"] in {a["ip_address"] for a in primary[0]["addresses"]}

    disks = ok(admin.get(f"/api/v1/devices/{device}/disks"))
    assert {(f["mountpoint"], f["total_bytes"]) for f in disks["filesystems"]} == {
        (f["mountpoint"], f["total_bytes"]) for f in doc["disks"]["filesystems"]
    }
    assert disks["physical_disks"] == doc["disks"]["block_devices"]

    detail = ok(admin.get(f"/api/v1/devices/{device}"))
    assert detail["hostname"] == doc["os"]["hostname"]
    assert detail["os_version"] == doc["os"]["version"]
    assert detail["os_build"] == (doc["os"]["build"] or doc["os"]["kernel"])
    assert detail["primary_ip"] == net["primary_ip"]
    assert detail["os"]["kernel"] == doc["os"]["kernel"]
    assert detail["os"]["timezone"] == doc["os"]["timezone"]
    assert detail["hardware"]["ram_total_mb"] == mem_total_mb()
    assert detail["uptime_seconds"] is not None and detail["uptime_seconds"] >= 0
    assert set(detail["inventory"]["sections"]) == {
        "hardware", "os", "network", "disks", "software", "users", "remote_access"
    }  # fmt: skip

    (baseline,) = changes(admin, device)
    assert (baseline["category"], baseline["change_type"]) == ("inventory", "baseline")
    assert baseline["subject"] == "inventory.baseline"
    assert baseline["new_value"]["counts"]["software"] == len(expected_packages)


def test_devices_come_from_the_real_enrollment(agent: Agent, admin: httpx.Client) -> None:
    audit = ok(
        admin.get(
            "/api/v1/audit/logs", params={"action": "device.enroll", "resource_id": agent.device_id}
        )
    )
    assert audit["total"] == 1


def test_the_same_document_twice_records_nothing(ingested: Agent, admin: httpx.Client) -> None:
    doc = inventory()
    assert ingested.send(doc) == 0
    assert ingested.send(doc) == 0
    assert len(changes(admin, ingested.device_id)) == 1
    assert len(all_software(admin, ingested.device_id)) == len(doc["software"]["items"])
    audit = ok(
        admin.get(
            "/api/v1/audit/logs",
            params={"action": "device.inventory", "resource_id": ingested.device_id},
        )
    )
    assert audit["total"] == 1  # only the ingest that changed something


def test_a_software_delta_records_exactly_its_changes(ingested: Agent, admin: httpx.Client) -> None:
    software = real_inventory()["software"]
    items = [dict(i) for i in software["items"]]
    removed, updated = items[0], items[1]
    new_version = updated["version"] + "+breeze1"
    added = {**items[2], "name": "breeze-test-package", "version": "1.2.3-1"}
    items = [{**updated, "version": new_version}, *items[2:], added]
    assert ingested.send(delta(software={**software, "items": items})) == 3

    rows = {
        (c["change_type"], c["subject"]): c
        for c in changes(admin, ingested.device_id, category="software")
    }
    assert set(rows) == {
        ("removed", removed["name"]),
        ("updated", updated["name"]),
        ("added", "breeze-test-package"),
    }
    assert rows[("updated", updated["name"])]["old_value"] == {
        "version": updated["version"],
        "source": "dpkg",
    }
    assert rows[("updated", updated["name"])]["new_value"] == {
        "version": new_version,
        "source": "dpkg",
    }
    assert rows[("added", "breeze-test-package")]["new_value"]["version"] == "1.2.3-1"
    assert rows[("removed", removed["name"])]["old_value"]["version"] == removed["version"]

    stored = {s["name"]: s["version"] for s in all_software(admin, ingested.device_id)}
    assert removed["name"] not in stored
    assert stored[updated["name"]] == new_version
    assert stored["breeze-test-package"] == "1.2.3-1"
    assert len(stored) == len(software["items"])
    # The other sections were not sent: nothing else changed.
    assert len(changes(admin, ingested.device_id)) == 4


def test_ram_ip_and_mac_changes_are_recorded(ingested: Agent, admin: httpx.Client) -> None:
    base = real_inventory()
    hardware = {**base["hardware"], "ram_total_mb": base["hardware"]["ram_total_mb"] + 1024}
    assert ingested.send(delta(hardware=hardware)) == 1
    (ram,) = changes(admin, ingested.device_id, category="hardware")
    assert ram["subject"] == "ram_total_mb"
    assert ram["old_value"] == {"value": base["hardware"]["ram_total_mb"]}
    assert ram["new_value"] == {"value": base["hardware"]["ram_total_mb"] + 1024}
    hw = ok(admin.get(f"/api/v1/devices/{ingested.device_id}/hardware"))
    assert hw["ram_total_mb"] == base["hardware"]["ram_total_mb"] + 1024

    network = json.loads(json.dumps(base["network"]))
    primary = next(i for i in network["interfaces"] if i["is_primary"])
    old_ip = next(a for a in primary["addresses"] if a["ip_type"] == "ipv4")
    old_address = old_ip["ip_address"]
    old_ip["ip_address"] = "198.51.100.77"
    primary["mac_address"] = "02:00:5e:10:00:01"
    assert ingested.send(delta(network=network)) == 4
    rows = {
        (c["change_type"], c["subject"]): c
        for c in changes(admin, ingested.device_id, category="network")
    }
    assert set(rows) == {
        ("added", "198.51.100.77"),
        ("removed", old_address),
        ("changed", "primary_ip"),
        ("changed", primary["interface_name"]),
    }
    assert rows[("changed", "primary_ip")]["new_value"] == {"value": "198.51.100.77"}
    assert rows[("changed", primary["interface_name"])]["new_value"] == {
        "mac_address": "02:00:5e:10:00:01"
    }
    detail = ok(admin.get(f"/api/v1/devices/{ingested.device_id}"))
    assert detail["primary_ip"] == "198.51.100.77"


def test_os_disks_and_admin_changes_are_recorded(ingested: Agent, admin: httpx.Client) -> None:
    base = real_inventory()
    os_section = {**base["os"], "version": "99", "kernel": "9.9.9-breeze", "uptime_seconds": 5}
    users = {
        **base["users"],
        "local_admins": sorted([*base["users"]["local_admins"], "breeze-alice"]),
    }
    disks = json.loads(json.dumps(base["disks"]))
    root = disks["filesystems"][0]
    root["total_bytes"] = int(root["total_bytes"] * 1.5)
    root["used_bytes"] += 1  # usage moves all the time: not history
    disks["filesystems"].append({**root, "mountpoint": "/srv/breeze-data", "device": "/dev/vdz1"})
    assert ingested.send(delta(os=os_section, users=users, disks=disks)) == 5
    got = {
        (c["category"], c["change_type"], c["subject"]) for c in changes(admin, ingested.device_id)
    }
    assert got - {("inventory", "baseline", "inventory.baseline")} == {
        ("os", "updated", "version"),
        ("os", "updated", "kernel"),
        ("users", "added", "breeze-alice"),
        ("disks", "changed", root["mountpoint"]),
        ("disks", "added", "/srv/breeze-data"),
    }
    detail = ok(admin.get(f"/api/v1/devices/{ingested.device_id}"))
    assert detail["os_version"] == "99"
    assert detail["os"]["kernel"] == "9.9.9-breeze"
    # Filtering the history: one category, one type, a time range.
    assert len(changes(admin, ingested.device_id, category="os", change_type="updated")) == 2
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert changes(admin, ingested.device_id, created_after=later) == []


def test_null_sections_keep_the_stored_data(ingested: Agent, admin: httpx.Client) -> None:
    device = ingested.device_id
    before_sw = len(all_software(admin, device))
    before_net = ok(admin.get(f"/api/v1/devices/{device}/network"))
    doc = inventory(software=None, network=None, errors={"software": "SourceUnavailable: boom"})
    doc["collected_at"] = datetime.now(UTC).isoformat()
    assert ingested.send(doc) == 0
    assert len(all_software(admin, device)) == before_sw
    after_net = ok(admin.get(f"/api/v1/devices/{device}/network"))
    assert after_net["interfaces"] == before_net["interfaces"]
    detail = ok(admin.get(f"/api/v1/devices/{device}"))
    assert detail["inventory"]["errors"] == {"software": "SourceUnavailable: boom"}


def test_an_older_copy_of_a_section_is_ignored(ingested: Agent, admin: httpx.Client) -> None:
    base = real_inventory()
    stale = delta(hardware={**base["hardware"], "ram_total_mb": 1})
    stale["collected_at"] = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert ingested.send(stale) == 0
    hw = ok(admin.get(f"/api/v1/devices/{ingested.device_id}/hardware"))
    assert hw["ram_total_mb"] == base["hardware"]["ram_total_mb"]


def _broken(path: str, value: Any) -> dict[str, Any]:
    doc = inventory()
    target: Any = doc
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


_DELETE = object()
BAD_DOCUMENTS = [
    ("agent_version", _DELETE, "agent_version"),
    ("mode", "sometimes", "mode"),
    ("collected_at", "2024-01-01T00:00:00", "collected_at"),  # no time zone
    ("software.items.0.version", _DELETE, "software.items.0.version"),
    ("software.items.3.surprise", "x", "software.items.3.surprise"),
    ("hardware.ram_total_mb", -5, "hardware.ram_total_mb"),
    ("hardware.cpu_cores", 2**40, "hardware.cpu_cores"),
    ("os.hostname", "h" * 300, "os.hostname"),
    (
        "network.interfaces.0.addresses.0.ip_address",
        "not-an-ip",
        "network.interfaces.0.addresses.0.ip_address",
    ),
    ("disks.filesystems.0.total_bytes", 2**70, "disks.filesystems.0.total_bytes"),
    ("software.items.1.name", "n" * 300, "software.items.1.name"),
    ("protocol_version", 7, "protocol_version"),
    ("hardware", "a string", "hardware"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS]
)
def test_bad_documents_are_refused_naming_the_field(
    ingested: Agent, admin: httpx.Client, path: str, value: Any, field: str
) -> None:
    r = ingested.put(_broken(path, value))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert len(changes(admin, ingested.device_id)) == 1  # nothing was stored


def test_infinite_numbers_are_refused(ingested: Agent) -> None:
    body = json.dumps(_broken("hardware.disk_total_gb", float("inf")))  # JSON "Infinity"
    with ingested.client() as c:
        r = c.put(
            f"/api/v1/agents/{ingested.agent_id}/inventory",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 422, r.text
    assert "hardware.disk_total_gb" in [e["field"] for e in r.json()["errors"]]


def test_only_the_device_s_own_token_is_accepted(agent: Agent, base_url: str) -> None:
    doc = inventory()
    with httpx.Client(base_url=base_url, timeout=30) as anon:
        url = f"/api/v1/agents/{agent.agent_id}/inventory"
        assert anon.put(url, json=doc).status_code == 401
        bad = {"Authorization": "Bearer brz_agt_not-a-real-token"}
        assert anon.put(url, json=doc, headers=bad).status_code == 401
    assert agent.put(doc, agent_id="agt_someone_else").status_code == 401


@pytest.mark.parametrize(
    ("path", "field"),
    [("os.hostname", "os.hostname"), ("software.items.2.publisher", "software.items.2.publisher"),
     ("errors.software", "errors")],
)  # fmt: skip
def test_text_that_is_not_unicode_is_refused(
    ingested: Agent, admin: httpx.Client, path: str, field: str
) -> None:
    marker = "breeze-surrogate-marker"
    body = json.dumps(_broken(path, marker)).replace(marker, "x\\ud800")  # a lone surrogate
    with ingested.client() as c:
        r = c.put(
            f"/api/v1/agents/{ingested.agent_id}/inventory",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert len(changes(admin, ingested.device_id)) == 1
