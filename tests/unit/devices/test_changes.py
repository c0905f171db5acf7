"""History rows from two copies of a section."""

from __future__ import annotations

from typing import Any

from breeze.devices import changes as c


def iface(name: str, *addrs: tuple[str, str], mac: str = "02:00:00:00:00:01", primary: bool = False,
          loopback: bool = False) -> dict[str, Any]:  # fmt: skip
    return {
        "interface_name": name,
        "mac_address": mac,
        "is_primary": primary,
        "is_loopback": loopback,
        "addresses": [
            {
                "ip_address": ip,
                "ip_type": "ipv6" if ":" in ip else "ipv4",
                "prefix_length": 24,
                "scope": scope,
            }
            for ip, scope in addrs
        ],
    }


def test_hardware_fields_the_agent_could_not_read_keep_their_value() -> None:
    previous = {f: None for f in c.HARDWARE_FIELDS} | {"serial_number": "SN1", "ram_total_mb": 1024}
    section = {
        "serial_number": None,
        "ram_total_mb": 2048,
        "unavailable": {"serial_number": "permission denied"},
    }
    state = c.hardware_state(section, previous)
    assert state["serial_number"] == "SN1"
    assert [(x.subject, x.old, x.new) for x in c.diff_hardware(previous, state)] == [
        ("ram_total_mb", {"value": 1024}, {"value": 2048})
    ]


def test_virtualization_label() -> None:
    assert c.virtualization_label({"is_virtual": False}) == "physical"
    assert c.virtualization_label({"is_virtual": True, "virtualization_platform": "kvm"}) == "kvm"
    assert (
        c.virtualization_label({"is_virtual": True, "virtualization_type": "container"})
        == "container"
    )
    assert c.virtualization_label({}) is None


def test_os_upgrades_and_settings_but_not_uptime() -> None:
    old = {
        "name": "Debian 12",
        "version": "12",
        "kernel": "6.1",
        "hostname": "a",
        "uptime_seconds": 5,
    }
    new = {**old, "version": "13", "kernel": "6.12", "hostname": "b", "uptime_seconds": 900}
    assert {(x.change_type, x.subject) for x in c.diff_os(old, new)} == {
        ("updated", "version"),
        ("updated", "kernel"),
        ("changed", "hostname"),
    }


def test_network_address_mac_and_primary_ip_changes() -> None:
    old = {"interfaces": [
        iface("lo", ("127.0.0.1", "host"), loopback=True),
        iface("eth0", ("192.0.2.2", "global"), ("fe80::1", "link"), primary=True),
    ]}  # fmt: skip
    new = {"interfaces": [
        iface("lo", ("127.0.0.1", "host"), loopback=True),
        iface("eth0", ("192.0.2.9", "global"), ("fe80::2", "link"), primary=True, mac="02:00:00:00:00:02"),
    ]}  # fmt: skip
    assert c.primary_ip(old) == "192.0.2.2" and c.primary_ip(new) == "192.0.2.9"
    got = {(x.change_type, x.subject) for x in c.diff_network(old, new, "192.0.2.2", "192.0.2.9")}
    assert got == {
        ("added", "192.0.2.9"),
        ("removed", "192.0.2.2"),
        ("changed", "eth0"),
        ("changed", "primary_ip"),
    }  # link-local addresses are not history


def test_primary_ip_prefers_the_default_route_interface_and_ipv4() -> None:
    section = {"interfaces": [
        iface("wlan0", ("10.0.0.5", "global")),
        iface("eth0", ("fd00::2", "global"), ("192.0.2.2", "global"), primary=True),
    ]}  # fmt: skip
    assert c.primary_ip(section) == "192.0.2.2"
    assert c.primary_ip({"interfaces": [iface("lo", ("127.0.0.1", "host"), loopback=True)]}) is None


def test_disks_ignore_usage_and_small_size_wobble() -> None:
    fs = {
        "mountpoint": "/",
        "device": "/dev/vda1",
        "fs_type": "ext4",
        "total_bytes": 1000,
        "used_bytes": 10,
    }
    old = {"filesystems": [fs], "block_devices": [{"name": "vda", "size_bytes": 2000}]}
    wobble = {
        "filesystems": [{**fs, "total_bytes": 1005, "used_bytes": 500}],
        "block_devices": old["block_devices"],
    }
    assert c.diff_disks(old, wobble) == []
    grown = {
        "filesystems": [{**fs, "total_bytes": 1500}, {**fs, "mountpoint": "/data"}],
        "block_devices": [{"name": "vda", "size_bytes": 3000}, {"name": "vdb", "size_bytes": 10}],
    }
    assert {(x.change_type, x.subject) for x in c.diff_disks(old, grown)} == {
        ("changed", "/"),
        ("added", "/data"),
        ("changed", "/dev/vda"),
        ("added", "/dev/vdb"),
    }


def test_admins_and_ssh_posture() -> None:
    assert {(x.change_type, x.subject) for x in c.diff_users(
        {"local_admins": ["root", "bob"]}, {"local_admins": ["root", "alice"]}
    )} == {("added", "alice"), ("removed", "bob")}  # fmt: skip
    ssh = {"ssh": {"listening": False, "permit_root_login": "no"}}
    after = {"ssh": {"listening": True, "permit_root_login": "no"}}
    assert [(x.subject, x.new) for x in c.diff_remote_access(ssh, after)] == [
        ("ssh.listening", {"value": True})
    ]


def test_baseline_summarises_the_first_sections() -> None:
    row = c.baseline({"software": {"items": [1, 2, 3]}, "os": {}})
    assert (row.category, row.change_type, row.subject) == (
        "inventory",
        "baseline",
        "inventory.baseline",
    )
    assert row.new == {"sections": ["os", "software"], "counts": {"software": 3}}
