"""What a virtual agent sends: enrollment bodies, heartbeats with plausible metrics, and a
Debian-like inventory of a few hundred packages, all built with the real wire schemas
(breeze_protocol) so a schema change breaks the simulator instead of silently drifting."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from breeze_protocol import Inventory
from breeze_protocol.agent_api import EnrollRequest
from breeze_protocol.metrics import HeartbeatMetrics, HeartbeatRequest

AGENT_VERSION = "0.1.0"
SOFTWARE_ROWS = 300
_STEMS = (
    "lib", "python3-", "gir1.2-", "fonts-", "x11-", "perl-", "node-", "golang-", "ruby-",
    "php-", "libreoffice-", "gnome-", "kde-", "texlive-", "openssh-", "systemd-", "linux-",
)  # fmt: skip
_WORDS = (
    "core", "utils", "common", "data", "bin", "dev", "doc", "tools", "base", "extra", "runtime",
    "client", "server", "plugins", "gtk3", "qt5", "ssl", "xml", "json", "yaml", "crypt", "net",
)  # fmt: skip


def enroll_body(key: str, machine_id: str, hostname: str) -> bytes:
    return (
        EnrollRequest(
            enrollment_key=key,
            machine_id=machine_id,
            hostname=hostname,
            os_type="linux",
            os_version="12 (bookworm)",
            os_build="6.1.0-18-amd64",
            architecture="x86_64",
            agent_version=AGENT_VERSION,
            hardware_info={"cpu_cores": 4, "ram_total_mb": 16000},
            network_info={},
        )
        .model_dump_json()
        .encode()
    )


class MetricWalk:
    """A device's metrics drift like a real machine's: a random walk within bounds,
    counters only grow."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cpu = rng.uniform(2, 40)
        self.ram = rng.uniform(20, 80)
        self.disk = rng.uniform(10, 90)
        self.rx = rng.randrange(10**6, 10**10)
        self.tx = rng.randrange(10**6, 10**9)
        self.procs = rng.randrange(120, 400)
        self.uptime = rng.randrange(600, 30 * 86400)

    def beat(self, interval: float) -> bytes:
        r = self.rng
        self.cpu = min(100.0, max(0.0, self.cpu + r.gauss(0, 5)))
        self.ram = min(100.0, max(1.0, self.ram + r.gauss(0, 1)))
        self.disk = min(100.0, max(1.0, self.disk + r.gauss(0, 0.05)))
        self.rx += r.randrange(0, 5_000_000)
        self.tx += r.randrange(0, 1_000_000)
        self.procs = max(50, self.procs + r.randrange(-3, 4))
        self.uptime += int(interval)
        body = HeartbeatRequest(
            agent_version=AGENT_VERSION,
            metrics=HeartbeatMetrics(
                cpu_percent=round(self.cpu, 1),
                ram_percent=round(self.ram, 1),
                ram_used_mb=int(self.ram * 160),
                disk_percent=round(self.disk, 1),
                disk_used_gb=round(self.disk * 4.7, 2),
                network_in_bytes=self.rx,
                network_out_bytes=self.tx,
                process_count=self.procs,
                custom={},
            ),
            last_user="alice",
            uptime_seconds=self.uptime,
        )
        return body.model_dump_json().encode()


def _software(rng: random.Random) -> list[dict[str, Any]]:
    names: set[str] = set()
    while len(names) < SOFTWARE_ROWS:
        names.add(f"{rng.choice(_STEMS)}{rng.choice(_WORDS)}{rng.randrange(0, 40) or ''}")
    day = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "name": name,
            "version": f"{rng.randrange(0, 9)}.{rng.randrange(0, 30)}.{rng.randrange(0, 99)}-1",
            "architecture": "amd64",
            "publisher": "Debian Maintainers <debian@example.org>",
            "install_date": (day + timedelta(days=rng.randrange(0, 400))).isoformat(),
            "is_system": rng.random() < 0.1,
            "source": "dpkg",
        }
        for name in sorted(names)
    ]


class InventoryTemplate:
    """One validated inventory per simulator process; each agent gets a copy with its own
    names and addresses (validating 300 packages per agent would cost the server's CPU)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        now = datetime.now(UTC)
        doc = Inventory(
            agent_version=AGENT_VERSION,
            collected_at=now,
            hardware={
                "cpu_model": "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
                "cpu_cores": 4,
                "cpu_threads": 8,
                "ram_total_mb": 16000,
                "disk_total_gb": 476.94,
                "serial_number": "SN-TEMPLATE",
                "manufacturer": "Dell Inc.",
                "model": "OptiPlex 7080",
                "architecture": "x86_64",
                "is_virtual": False,
            },
            os={
                "os_type": "linux",
                "name": "Debian GNU/Linux 12 (bookworm)",
                "version": "12",
                "build": "12.5",
                "kernel": "6.1.0-18-amd64",
                "architecture": "x86_64",
                "hostname": "template",
                "boot_time": now - timedelta(days=3),
                "uptime_seconds": 3 * 86400,
                "timezone": "Europe/Paris",
                "utc_offset_minutes": 60,
            },
            network={
                "interfaces": [
                    {
                        "interface_name": "eth0",
                        "mac_address": "02:00:00:00:00:01",
                        "link_type": "ether",
                        "is_up": True,
                        "is_primary": True,
                        "mtu": 1500,
                        "addresses": [
                            {"ip_address": "192.0.2.1", "ip_type": "ipv4", "prefix_length": 24}
                        ],
                    }
                ],
                "primary_interface": "eth0",
                "dns_servers": ["192.0.2.53"],
            },
            disks={
                "block_devices": [{"name": "nvme0n1", "size_bytes": 512110190592}],
                "filesystems": [
                    {
                        "device": "/dev/nvme0n1p2",
                        "mountpoint": "/",
                        "fs_type": "ext4",
                        "read_only": False,
                        "total_bytes": 502000000000,
                        "used_bytes": 120000000000,
                        "free_bytes": 356000000000,
                        "percent_used": 25.2,
                    }
                ],
            },
            software={"sources": ["dpkg"], "items": _software(rng)},
            users={"local_admins": ["root", "alice"], "superuser_accounts": ["root"]},
            remote_access={"ssh": {"server_installed": True, "listening": True}},
        )
        self.full: dict[str, Any] = doc.model_dump(mode="json")

    def for_agent(self, hostname: str, n: int, rng: random.Random) -> dict[str, Any]:
        doc = dict(self.full)
        doc["hardware"] = {**doc["hardware"], "serial_number": f"SN-{n:08d}"}
        doc["os"] = {**doc["os"], "hostname": hostname}
        iface = {
            **doc["network"]["interfaces"][0],
            "mac_address": "02:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(5)),
            "addresses": [
                {
                    "ip_address": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                    "ip_type": "ipv4",
                    "prefix_length": 16,
                }
            ],
        }
        doc["network"] = {**doc["network"], "interfaces": [iface]}
        software = [dict(item) for item in doc["software"]["items"]]
        doc["software"] = {**doc["software"], "items": software}
        return doc


def full_body(doc: dict[str, Any]) -> bytes:
    return json.dumps({**doc, "collected_at": datetime.now(UTC).isoformat()}).encode()


def delta_body(doc: dict[str, Any], rng: random.Random) -> bytes:
    """A package upgraded: only the software section is sent (the rest is unchanged)."""
    items = doc["software"]["items"]
    item = items[rng.randrange(len(items))]
    major, _, rest = item["version"].partition(".")
    item["version"] = f"{int(major) + 1}.{rest}"
    delta = {
        "protocol_version": doc["protocol_version"],
        "mode": "delta",
        "agent_version": doc["agent_version"],
        "collected_at": datetime.now(UTC).isoformat(),
        "software": doc["software"],
        "errors": {},
    }
    return json.dumps(delta).encode()


def machine_id() -> str:
    return uuid.uuid4().hex
