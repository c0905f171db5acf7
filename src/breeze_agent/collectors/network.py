"""Network: interfaces, MACs, IPv4/IPv6 addresses, default gateways, DNS.

Sources: ``ip -j addr`` and ``ip -j route`` (iproute2 JSON) when present, otherwise psutil
(net_if_addrs / net_if_stats) and /proc/net/route; DNS from /etc/resolv.conf (the upstream
list in /run/systemd/resolve/resolv.conf when only the systemd-resolved stub is configured).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_agent._util import Notes, read_text, run
from breeze_protocol import NetworkAddress, NetworkInfo, NetworkInterface, field_specs

SECTION = "network"
MODEL = NetworkInfo
FIELDS = field_specs(NetworkInfo)

_STUB_RESOLVERS = {"127.0.0.53", "127.0.0.54"}


def _ip_json(*args: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    out, reason = run(["ip", "-j", *args])
    if out is None:
        return None, reason
    try:
        data = json.loads(out or "[]")
    except json.JSONDecodeError as exc:
        return None, f"ip -j {' '.join(args)} printed invalid JSON: {exc}"
    return ([d for d in data if isinstance(d, dict)] if isinstance(data, list) else []), None


def _from_iproute(data: list[dict[str, Any]]) -> list[NetworkInterface]:
    interfaces: list[NetworkInterface] = []
    for link in data:
        addresses = [
            NetworkAddress(
                ip_address=str(a["local"]),
                ip_type="ipv6" if a.get("family") == "inet6" else "ipv4",
                prefix_length=a.get("prefixlen"),
                scope=a.get("scope"),
            )
            for a in link.get("addr_info", [])
            if isinstance(a, dict) and a.get("local") and a.get("family") in ("inet", "inet6")
        ]
        flags = link.get("flags") or []
        mac = link.get("address")
        interfaces.append(
            NetworkInterface(
                interface_name=str(link.get("ifname", "")),
                mac_address=str(mac).lower() if mac else None,
                link_type=link.get("link_type"),
                is_up="UP" in flags,
                is_loopback="LOOPBACK" in flags,
                mtu=link.get("mtu"),
                addresses=addresses,
            )
        )
    return interfaces


def _prefix(netmask: str | None) -> int | None:
    if not netmask:
        return None
    try:
        return ipaddress.ip_network(f"0.0.0.0/{netmask}").prefixlen
    except ValueError:
        try:  # IPv6 masks come as ffff:ffff:...
            return bin(int(ipaddress.IPv6Address(netmask))).count("1")
        except ValueError:
            return None


def _from_psutil() -> list[NetworkInterface]:
    stats = psutil.net_if_stats()
    interfaces: list[NetworkInterface] = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        mac = None
        addresses: list[NetworkAddress] = []
        for a in addrs:
            if a.family == psutil.AF_LINK:
                mac = str(a.address).lower().replace("-", ":")
            elif a.family in (socket.AF_INET, socket.AF_INET6):
                ip = str(a.address).split("%", 1)[0]
                ipv6 = a.family == socket.AF_INET6
                addresses.append(
                    NetworkAddress(
                        ip_address=ip,
                        ip_type="ipv6" if ipv6 else "ipv4",
                        prefix_length=_prefix(a.netmask),
                        scope="link" if ipv6 and ip.lower().startswith("fe80") else None,
                    )
                )
        st = stats.get(name)
        loopback = any(a.ip_address in ("127.0.0.1", "::1") for a in addresses)
        interfaces.append(
            NetworkInterface(
                interface_name=name,
                mac_address=mac,
                is_up=bool(st.isup) if st else None,
                is_loopback=loopback,
                mtu=int(st.mtu) if st else None,
                addresses=addresses,
            )
        )
    return interfaces


def _default_routes(notes: Notes) -> tuple[str | None, str | None, str | None]:
    """(ipv4 gateway, ipv6 gateway, interface of the preferred default route)."""
    gw4 = gw6 = dev4 = dev6 = None
    v4, reason = _ip_json("route", "show", "default")
    if v4 is not None:
        best = min(v4, key=lambda r: r.get("metric", 0), default=None)
        if best:
            gw4, dev4 = best.get("gateway"), best.get("dev")
        v6, _ = _ip_json("-6", "route", "show", "default")
        best6 = min(v6 or [], key=lambda r: r.get("metric", 0), default=None)
        if best6:
            gw6, dev6 = best6.get("gateway"), best6.get("dev")
    else:
        notes.note("default_gateway_ipv6", reason)
        text, _ = read_text("/proc/net/route")
        for line in (text or "").splitlines()[1:]:
            cols = line.split()
            if len(cols) > 2 and cols[1] == "00000000":
                dev4 = cols[0]
                gw4 = socket.inet_ntoa(int(cols[2], 16).to_bytes(4, "little"))
                break
    if gw4 is None:
        notes.note("default_gateway_ipv4", "no IPv4 default route")
    if gw6 is None:
        notes.note("default_gateway_ipv6", "no IPv6 default route")
    return gw4, gw6, dev4 or dev6


def _resolv(path: str) -> tuple[list[str], list[str]]:
    text, _ = read_text(path)
    servers: list[str] = []
    search: list[str] = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append(parts[1])
        elif len(parts) >= 2 and parts[0] in ("search", "domain"):
            search = [p for p in parts[1:] if p != "."]
    return servers, search


def dns(notes: Notes) -> tuple[list[str], list[str]]:
    servers, search = _resolv("/etc/resolv.conf")
    if servers and set(servers) <= _STUB_RESOLVERS:
        upstream, up_search = _resolv("/run/systemd/resolve/resolv.conf")
        if upstream:
            servers, search = upstream, up_search or search
    if not servers:
        notes.note("dns_servers", "no nameserver in /etc/resolv.conf")
    return servers, search


def collect() -> NetworkInfo:
    notes = Notes()
    data, reason = _ip_json("addr")
    if data is not None:
        interfaces = _from_iproute(data)
    else:
        notes.note("interfaces", f"{reason}; used psutil (no link types, no address scopes)")
        interfaces = _from_psutil()
    gw4, gw6, primary = _default_routes(notes)
    for iface in interfaces:
        iface.is_primary = iface.interface_name == primary
    servers, search = dns(notes)
    return NetworkInfo(
        interfaces=interfaces,
        default_gateway_ipv4=gw4,
        default_gateway_ipv6=gw6,
        primary_interface=primary,
        dns_servers=servers,
        dns_search=search,
        unavailable=notes.reasons,
    )
