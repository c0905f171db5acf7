"""Users: who is logged in, and who can administer the machine.

Sources: psutil.users() (utmp, the same records ``who`` prints); the sudo, wheel and admin
groups through grp (listed members) and pwd (users whose primary group it is); uid 0
accounts through pwd. Sudoers rules beyond these groups are not evaluated.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import psutil  # type: ignore[import-untyped]  # no stubs in the venv (types-psutil)

from breeze_protocol import AdminGroup, LoggedInUser, UsersInfo, field_specs

SECTION = "users"
MODEL = UsersInfo
FIELDS = field_specs(UsersInfo)

ADMIN_GROUPS = ("sudo", "wheel", "admin")


def logged_in() -> list[LoggedInUser]:
    sessions: list[LoggedInUser] = []
    for u in psutil.users():
        started = getattr(u, "started", None)
        pid = getattr(u, "pid", None)
        sessions.append(
            LoggedInUser(
                username=str(u.name),
                terminal=str(u.terminal) if u.terminal else None,
                host=str(u.host) if u.host else None,
                started=datetime.fromtimestamp(float(started), tz=UTC) if started else None,
                pid=int(pid) if pid else None,
            )
        )
    return sessions


def admin_groups(names: tuple[str, ...] = ADMIN_GROUPS) -> tuple[list[AdminGroup], list[str]]:
    """(admin groups present with their members, uid-0 accounts). Unix only."""
    import grp
    import pwd

    accounts = pwd.getpwall()
    groups: list[AdminGroup] = []
    for name in names:
        try:
            entry = grp.getgrnam(name)
        except KeyError:
            continue
        members = set(entry.gr_mem) | {p.pw_name for p in accounts if p.pw_gid == entry.gr_gid}
        groups.append(AdminGroup(name=name, gid=entry.gr_gid, members=sorted(members)))
    superusers = sorted({p.pw_name for p in accounts if p.pw_uid == 0})
    return groups, superusers


def collect() -> UsersInfo:
    unavailable: dict[str, str] = {}
    sessions = logged_in()
    groups: list[AdminGroup] = []
    superusers: list[str] = []
    if sys.platform == "win32":
        reason = "local Administrators group membership is not implemented on Windows yet"
        unavailable["admin_groups"] = reason
        unavailable["local_admins"] = reason
    else:
        groups, superusers = admin_groups()
        if not groups:
            unavailable["admin_groups"] = f"none of the groups {', '.join(ADMIN_GROUPS)} exist"
    admins = sorted({m for g in groups for m in g.members} | set(superusers))
    return UsersInfo(
        logged_in=sessions,
        admin_groups=groups,
        local_admins=admins,
        superuser_accounts=superusers,
        unavailable=unavailable,
    )
