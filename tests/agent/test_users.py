"""Users collector against who(1), getent, and a real temporary sudo member."""

from __future__ import annotations

import subprocess
import uuid
from collections import Counter

from breeze_agent.collectors import users
from tests.agent.helpers import require_root, require_tools, sh


def _getent_group(name: str) -> tuple[int, set[str]] | None:
    out = sh("getent", "group", name, check=False).strip()
    if not out:
        return None
    _, _, gid, members = out.split(":", 3)
    return int(gid), {m for m in members.split(",") if m}


def _primary_members(gid: int) -> set[str]:
    rows = [line.split(":") for line in sh("getent", "passwd").splitlines()]
    return {r[0] for r in rows if r[3] == str(gid)}


def test_logged_in_users_equal_who() -> None:
    require_tools("who")
    expected = Counter(line.split()[0] for line in sh("who").splitlines() if line.strip())
    assert Counter(u.username for u in users.collect().logged_in) == expected


def test_admin_groups_equal_getent() -> None:
    require_tools("getent")
    info = users.collect()
    expected = {}
    for name in users.ADMIN_GROUPS:
        entry = _getent_group(name)
        if entry:
            gid, members = entry
            expected[name] = (gid, sorted(members | _primary_members(gid)))
    assert {g.name: (g.gid, g.members) for g in info.admin_groups} == expected
    uid0 = {r.split(":")[0] for r in sh("getent", "passwd").splitlines() if r.split(":")[2] == "0"}
    assert set(info.superuser_accounts) == uid0
    assert set(info.local_admins) == uid0 | {m for _, ms in expected.values() for m in ms}


def test_new_sudo_member_is_a_local_admin() -> None:
    require_root("useradd", "userdel", "getent")
    group = next((g for g in users.ADMIN_GROUPS if _getent_group(g)), None)
    assert group, "no sudo/wheel/admin group on this machine"
    login = f"brz{uuid.uuid4().hex[:8]}"
    sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", group, login)
    try:
        info = users.collect()
        assert login in info.local_admins
        assert login in next(g for g in info.admin_groups if g.name == group).members
    finally:
        subprocess.run(["userdel", login], capture_output=True, check=False)
    assert login not in users.collect().local_admins
