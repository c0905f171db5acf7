"""Remote access posture: is an SSH server installed, enabled at boot, and listening?

Sources: the sshd binary (PATH and the usual sbin directories), systemd ``*.wants`` links,
SysV rc links and OpenRC runlevels for ssh/sshd, sshd_config (Port, PermitRootLogin,
PasswordAuthentication, following Include), and listening TCP sockets from
psutil.net_connections (falling back to /proc/net/tcp and /proc/net/tcp6).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_agent._util import Notes, read_text
from breeze_protocol import ListeningSocket, RemoteAccessInfo, SshPosture, field_specs

SECTION = "remote_access"
MODEL = RemoteAccessInfo
FIELDS = field_specs(RemoteAccessInfo)

SSHD_CONFIG = "/etc/ssh/sshd_config"
_SSHD_PATHS = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd")
_UNITS = ("ssh.service", "sshd.service", "ssh.socket", "sshd.socket")
_UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


def sshd_path() -> str | None:
    found = shutil.which("sshd")
    return found or next((p for p in _SSHD_PATHS if os.access(p, os.X_OK)), None)


def sshd_options(path: str = SSHD_CONFIG, depth: int = 0) -> dict[str, list[str]]:
    """Global options of sshd_config in file order (sshd uses the first value; Port repeats)."""
    options: dict[str, list[str]] = {}
    text, _ = read_text(path)
    for raw in (text or "").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, value = line.replace("=", " ", 1).partition(" ")
        key, value = key.lower(), value.strip()
        if key == "match":
            break  # everything after is conditional
        if key == "include" and depth < 8:
            for pattern in value.split():
                if not os.path.isabs(pattern):
                    pattern = os.path.join("/etc/ssh", pattern)
                for inc in sorted(glob.glob(pattern)):
                    for k, vals in sshd_options(inc, depth + 1).items():
                        options.setdefault(k, []).extend(vals)
            continue
        options.setdefault(key, []).append(value)
    return options


def service_enabled(installed: bool) -> tuple[bool | None, str | None]:
    """Enabled at boot through systemd, SysV rc links or OpenRC; ``None`` if unknowable."""
    wants = [w for unit in _UNITS for w in glob.glob(f"/etc/systemd/system/*.wants/{unit}")]
    if wants:
        return True, None
    if any(os.path.exists(f"{d}/{u}") for d in _UNIT_DIRS for u in _UNITS):
        return False, None  # unit installed but not wanted by any target
    if glob.glob("/etc/rc[2-5].d/S*ssh*") or glob.glob("/etc/runlevels/*/sshd"):
        return True, None
    if not installed:
        return False, None
    return None, "sshd present but no systemd unit, SysV rc link or OpenRC runlevel found"


def _decode_proc_addr(hex_addr: str) -> str:
    """/proc/net/tcp{,6} addresses are 32-bit words in host (little-endian) order."""
    raw = b"".join(bytes.fromhex(hex_addr[i : i + 8])[::-1] for i in range(0, len(hex_addr), 8))
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _proc_net_listeners() -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        text, _ = read_text(path)
        for line in (text or "").splitlines()[1:]:
            cols = line.split()
            if len(cols) > 3 and cols[3] == "0A":  # TCP_LISTEN
                addr_hex, _, port_hex = cols[1].partition(":")
                out.append((_decode_proc_addr(addr_hex), int(port_hex, 16)))
    return out


def _process_name(pid: int | None) -> str | None:
    if not pid:
        return None
    try:
        return str(psutil.Process(pid).name())
    except (psutil.Error, OSError):
        return None


def listeners(ports: list[int], notes: Notes) -> list[ListeningSocket]:
    """TCP listening sockets on ``ports`` or owned by a process named sshd."""
    found: list[ListeningSocket] = []
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError) as exc:
        notes.note("listeners", f"psutil.net_connections denied ({exc}); read /proc/net/tcp")
        return [
            ListeningSocket(address=addr, port=port)
            for addr, port in _proc_net_listeners()
            if port in ports
        ]
    for c in conns:
        if c.status != psutil.CONN_LISTEN or not c.laddr:
            continue
        pid = int(c.pid) if c.pid else None
        name = _process_name(pid)
        if int(c.laddr.port) in ports or (name or "").startswith("sshd"):
            found.append(
                ListeningSocket(
                    address=str(c.laddr.ip), port=int(c.laddr.port), pid=pid, process_name=name
                )
            )
    return sorted(found, key=lambda s: (s.port, s.address))


def _first(options: dict[str, list[str]], key: str) -> str | None:
    values = options.get(key)
    return values[0] if values else None


def collect() -> RemoteAccessInfo:
    notes = Notes()
    path = sshd_path()
    options = sshd_options()
    ports = sorted({int(p) for p in options.get("port", []) if p.isdigit()}) or [22]
    enabled, reason = service_enabled(path is not None)
    notes.note("ssh.service_enabled", reason)
    sockets = listeners(ports, notes)
    if path and not Path(SSHD_CONFIG).exists():
        notes.note("ssh.permit_root_login", f"{SSHD_CONFIG} not present")
    ssh = SshPosture(
        server_installed=path is not None,
        server_path=path,
        service_enabled=enabled,
        listening=bool(sockets),
        ports=ports,
        listeners=sockets,
        permit_root_login=_first(options, "permitrootlogin"),
        password_authentication=_first(options, "passwordauthentication"),
    )
    return RemoteAccessInfo(ssh=ssh, unavailable=notes.reasons)
