"""SSH posture against ss(8) and a real listener on port 22."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from breeze_agent.collectors import remote_access
from tests.agent.helpers import require_root, require_tools, sh


def _ss_listening_ports() -> set[int]:
    ports = set()
    for line in sh("ss", "-ltnH").splitlines():
        local = line.split()[3]
        ports.add(int(local.rsplit(":", 1)[1]))
    return ports


def test_sshd_presence_matches_the_filesystem() -> None:
    info = remote_access.collect()
    candidates = [shutil.which("sshd"), *remote_access._SSHD_PATHS]
    present = any(p and os.access(p, os.X_OK) for p in candidates)
    assert info.ssh.server_installed is present
    if not present and not any(
        Path(d, u).exists() for d in remote_access._UNIT_DIRS for u in remote_access._UNITS
    ):
        assert info.ssh.service_enabled is False


def test_listening_matches_ss() -> None:
    require_tools("ss")
    info = remote_access.collect()
    assert info.ssh.listening == bool(set(info.ssh.ports) & _ss_listening_ports()) or any(
        (s.process_name or "").startswith("sshd") for s in info.ssh.listeners
    )


def test_a_listener_on_port_22_is_seen_with_its_process() -> None:
    require_root("ss")
    if 22 in _ss_listening_ports():
        info = remote_access.collect()
        assert info.ssh.listening
        return
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 22))
    sock.listen(1)
    try:
        info = remote_access.collect()
        assert info.ssh.listening is True
        mine = [s for s in info.ssh.listeners if s.pid == os.getpid()]
        assert [(s.address, s.port) for s in mine] == [("127.0.0.1", 22)]
        assert mine[0].process_name == psutil.Process().name()
        assert 22 in _ss_listening_ports()
    finally:
        sock.close()
    assert remote_access.collect().ssh.listening is False


def _ss_listeners() -> set[tuple[str, int]]:
    found = set()
    for line in sh("ss", "-ltnH").splitlines():
        host, port = line.split()[3].rsplit(":", 1)
        host = host.strip("[]").split("%", 1)[0]
        found.add(("0.0.0.0" if host == "*" else host, int(port)))
    return found


def test_proc_net_fallback_decodes_addresses() -> None:
    """The /proc/net/tcp reader agrees with ss about who listens where."""
    require_tools("ss")
    before = _ss_listeners()
    ours = set(remote_access._proc_net_listeners())
    stable = before & _ss_listeners()  # ignore listeners other processes open meanwhile
    for host, port in stable:
        assert (host, port) in ours or (host == "0.0.0.0" and ("::", port) in ours), (host, port)


def test_sshd_config_parsing(tmp_path: Path) -> None:
    extra = tmp_path / "extra.conf"
    extra.write_text("PasswordAuthentication no\nPort 2222\n")
    main = tmp_path / "sshd_config"
    main.write_text(
        "# comment\n"
        f"Include {extra}\n"
        "Port 22\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication yes\n"
        "Match User backup\n"
        "  PermitRootLogin yes\n"
    )
    options = remote_access.sshd_options(str(main))
    assert options["port"] == ["2222", "22"]
    assert options["passwordauthentication"][0] == "no"  # first value wins, like sshd
    assert options["permitrootlogin"] == ["prohibit-password"]  # Match block ignored
