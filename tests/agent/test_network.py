"""Network collector against iproute2's own JSON and /etc/resolv.conf."""

from __future__ import annotations

import json
from typing import Any

import pytest

from breeze_agent._util import Notes
from breeze_agent.collectors import network
from breeze_protocol import NetworkInfo, NetworkInterface
from tests.agent.helpers import require_tools, sh


@pytest.fixture(scope="module")
def ip_addr() -> list[dict[str, Any]]:
    require_tools("ip")
    return json.loads(sh("ip", "-j", "addr"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def info() -> NetworkInfo:
    return network.collect()


def _addresses(link: dict[str, Any]) -> set[tuple[str, int]]:
    return {
        (a["local"], a["prefixlen"])
        for a in link.get("addr_info", [])
        if a.get("family") in ("inet", "inet6") and "local" in a
    }


def _collected(iface: NetworkInterface) -> set[tuple[str, int | None]]:
    return {(a.ip_address, a.prefix_length) for a in iface.addresses}


def test_interfaces_equal_ip_addr(info: NetworkInfo, ip_addr: list[dict[str, Any]]) -> None:
    ours = {i.interface_name: i for i in info.interfaces}
    assert set(ours) == {link["ifname"] for link in ip_addr}
    for link in ip_addr:
        iface = ours[link["ifname"]]
        assert iface.mac_address == (link.get("address") or "").lower() or None
        assert _collected(iface) == _addresses(link), link["ifname"]
        assert iface.is_up == ("UP" in link.get("flags", []))
        assert iface.mtu == link.get("mtu")
        for addr in iface.addresses:
            assert addr.ip_type == ("ipv6" if ":" in addr.ip_address else "ipv4")


def test_psutil_fallback_sees_the_same_addresses(ip_addr: list[dict[str, Any]]) -> None:
    """The fallback path (no iproute2) reports the same interfaces, MACs and addresses."""
    fallback = {i.interface_name: i for i in network._from_psutil()}
    for link in ip_addr:
        if link["ifname"] not in fallback:  # psutil lists only interfaces it can address
            assert not _addresses(link)
            continue
        iface = fallback[link["ifname"]]
        assert _collected(iface) == _addresses(link), link["ifname"]
        if link.get("link_type") == "ether":
            assert iface.mac_address == link["address"].lower()


def test_default_gateways_equal_ip_route(info: NetworkInfo) -> None:
    v4 = json.loads(sh("ip", "-j", "route", "show", "default") or "[]")
    v6 = json.loads(sh("ip", "-j", "-6", "route", "show", "default") or "[]")
    best4: dict[str, Any] = min(v4, key=lambda r: r.get("metric", 0), default={})
    best6: dict[str, Any] = min(v6, key=lambda r: r.get("metric", 0), default={})
    assert info.default_gateway_ipv4 == best4.get("gateway")
    assert info.default_gateway_ipv6 == best6.get("gateway")
    primary = best4.get("dev") or best6.get("dev")
    assert info.primary_interface == primary
    assert [i.interface_name for i in info.interfaces if i.is_primary] == (
        [primary] if primary else []
    )


def test_proc_net_route_fallback_agrees() -> None:
    """The /proc/net/route reader finds the same IPv4 gateway as iproute2."""
    v4 = json.loads(sh("ip", "-j", "route", "show", "default") or "[]")
    with open("/proc/net/route", encoding="ascii") as fh:
        text = fh.read()
    rows = [line.split() for line in text.splitlines()[1:]]
    defaults = [r for r in rows if r[1] == "00000000"]
    if not v4:
        assert not defaults
        return
    import socket

    gateway = socket.inet_ntoa(int(defaults[0][2], 16).to_bytes(4, "little"))
    assert gateway in {r.get("gateway") for r in v4}


def test_dns_servers_from_resolv_conf(info: NetworkInfo) -> None:
    with open("/etc/resolv.conf", encoding="utf-8") as fh:
        servers = [ln.split()[1] for ln in fh if ln.split()[:1] == ["nameserver"]]
    if set(servers) <= {"127.0.0.53", "127.0.0.54"} and servers:
        # systemd-resolved stub: the collector reports the upstream servers when known
        assert info.dns_servers
    else:
        assert info.dns_servers == servers
    notes = Notes()
    assert network.dns(notes)[0] == info.dns_servers
