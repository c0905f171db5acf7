"""Who may invite whom, what a membership lets one see, and delegation limits."""

from __future__ import annotations

import httpx

from tests.factories import (
    MEMBER_PASSWORD,
    Tenant,
    invite,
    make_member,
    make_org,
    make_site,
    make_tenant,
    ok,
    role_id,
    unique,
)
from tests.integration.users.dbtools import audit_rows
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


def _email() -> str:
    return f"{unique('acc')}@example.com"


def _ids(page: dict[str, object]) -> set[str]:
    return {item["id"] for item in page["items"]}  # type: ignore[attr-defined,index]


def _me(member: httpx.Client) -> str:
    return str(ok(member.get("/api/v1/auth/me"))["id"])


def test_partner_member_with_selected_orgs_sees_only_those(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    pid = tenant.partner["id"]
    other = make_org(admin, pid)
    tech = make_member(
        admin,
        mailbox,
        role="Partner Technician",
        partner_id=pid,
        org_access="selected",
        org_ids=[other["id"]],
    )
    assert _ids(ok(tech.get("/api/v1/orgs"))) == {other["id"]}
    assert tech.get(f"/api/v1/orgs/{tenant.org['id']}").status_code == 404
    assert tech.get(f"/api/v1/sites/{tenant.site['id']}").status_code == 404
    me = ok(tech.get(f"/api/v1/users/{_me(tech)}"))
    assert me["memberships"][0]["org_access"] == "selected"
    assert me["memberships"][0]["org_ids"] == [other["id"]]

    nobody = make_member(admin, mailbox, role="Partner Viewer", partner_id=pid, org_access="none")
    assert ok(nobody.get("/api/v1/orgs"))["items"] == []
    assert ok(nobody.get(f"/api/v1/partners/{pid}"))["id"] == pid


def test_partner_admin_with_selected_orgs_cannot_hand_out_more_reach(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    pid = tenant.partner["id"]
    other = make_org(admin, pid)
    boss = make_member(
        admin,
        mailbox,
        role="Partner Admin",
        partner_id=pid,
        org_access="selected",
        org_ids=[other["id"]],
    )
    viewer = role_id(admin, "Partner Viewer")
    for access, orgs in (("all", []), ("selected", [tenant.org["id"]])):
        r = boss.post(
            "/api/v1/users",
            json={
                "email": _email(),
                "partner_id": pid,
                "role_id": viewer,
                "org_access": access,
                "org_ids": orgs,
            },
        )
        assert r.status_code == 403, r.text
    invite(
        boss,
        email=_email(),
        role="Partner Viewer",
        partner_id=pid,
        org_access="selected",
        org_ids=[other["id"]],
    )


def test_org_viewer_cannot_invite_nor_see_other_orgs_users(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    r = viewer.post(
        "/api/v1/users",
        json={
            "email": _email(),
            "org_id": tenant.org["id"],
            "role_id": role_id(admin, "Org Viewer"),
        },
    )
    assert r.status_code == 403
    other = make_tenant(admin)
    stranger = invite(admin, email=_email(), role="Org Admin", org_id=other.org["id"])
    assert viewer.get(f"/api/v1/users/{stranger['id']}").status_code == 404
    r = viewer.post(
        "/api/v1/users",
        json={
            "email": _email(),
            "org_id": other.org["id"],
            "role_id": role_id(admin, "Org Viewer"),
        },
    )
    assert r.status_code == 404


def test_org_admin_manages_their_org_only_and_cannot_escalate(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant, server: LiveServer
) -> None:
    oid, pid = tenant.org["id"], tenant.partner["id"]
    boss = make_member(admin, mailbox, role="Org Admin", org_id=oid)
    # A Partner role, into the org or the partner: refused.
    r = boss.post(
        "/api/v1/users",
        json={"email": _email(), "org_id": oid, "role_id": role_id(admin, "Partner Viewer")},
    )
    assert r.status_code == 403, r.text
    r = boss.post(
        "/api/v1/users",
        json={"email": _email(), "partner_id": pid, "role_id": role_id(admin, "Partner Viewer")},
    )
    assert r.status_code == 404
    # A custom role of the partner holding a permission Org Admins lack: refused.
    strong = ok(
        admin.post(
            "/api/v1/roles",
            json={
                "name": unique("Deleter"),
                "scope": "organization",
                "partner_id": pid,
                "permissions": ["orgs:read", "orgs:delete"],
            },
        ),
        201,
    )
    r = boss.post("/api/v1/users", json={"email": _email(), "org_id": oid, "role_id": strong["id"]})
    assert r.status_code == 403 and "orgs:delete" in r.json()["detail"]
    # What they hold themselves they may grant, and they see whom they invited.
    made = invite(boss, email=_email(), role="Org Technician", org_id=oid)
    listed = ok(boss.get("/api/v1/users", params={"org_id": oid}))
    assert made["id"] in _ids(listed) and _me(boss) in _ids(listed)
    # Users of another org stay invisible, also through the org_id filter.
    other = make_tenant(admin)
    stranger = invite(admin, email=_email(), role="Org Viewer", org_id=other.org["id"])
    assert boss.get(f"/api/v1/users/{stranger['id']}").status_code == 404
    assert ok(boss.get("/api/v1/users", params={"org_id": other.org["id"]}))["items"] == []
    assert stranger["id"] not in _ids(ok(boss.get("/api/v1/users", params={"per_page": 200})))
    # Someone holding more than them there cannot be changed or removed by them.
    superior = invite(admin, email=_email(), role="Org Viewer", org_id=oid)
    ok(
        admin.put(
            f"/api/v1/users/{superior['id']}/membership",
            json={"org_id": oid, "role_id": strong["id"]},
        )
    )
    assert boss.patch(f"/api/v1/users/{superior['id']}", json={"name": "X"}).status_code == 403
    r = boss.delete(f"/api/v1/users/{superior['id']}/membership", params={"org_id": oid})
    assert r.status_code == 403
    # Role changes follow the same rules.
    r = boss.put(
        f"/api/v1/users/{made['id']}/membership", json={"org_id": oid, "role_id": strong["id"]}
    )
    assert r.status_code == 403
    changed = ok(
        boss.put(
            f"/api/v1/users/{made['id']}/membership",
            json={"org_id": oid, "role_id": role_id(admin, "Org Viewer")},
        )
    )
    assert changed["memberships"][0]["role_name"] == "Org Viewer"
    rows = audit_rows(server, made["id"])
    assert [r["action"] for r in rows] == ["user.invite", "user.membership.set"]
    assert rows[1]["org_id"] == oid and rows[1]["details"]["role_name"] == "Org Viewer"


def test_site_scoped_member_sees_only_their_sites(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    oid = tenant.org["id"]
    second = make_site(admin, oid)
    scoped = make_member(
        admin, mailbox, role="Org Technician", org_id=oid, site_ids=[tenant.site["id"]]
    )
    assert _ids(ok(scoped.get("/api/v1/sites"))) == {tenant.site["id"]}
    assert _ids(ok(scoped.get(f"/api/v1/orgs/{oid}/sites"))) == {tenant.site["id"]}
    assert scoped.get(f"/api/v1/sites/{second['id']}").status_code == 404
    me = ok(scoped.get(f"/api/v1/users/{_me(scoped)}"))
    assert me["memberships"][0]["site_ids"] == [tenant.site["id"]]
    other = make_tenant(admin)
    r = admin.post(
        "/api/v1/users",
        json={
            "email": _email(),
            "org_id": oid,
            "role_id": role_id(admin, "Org Viewer"),
            "site_ids": [other.site["id"]],
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "site_ids"


def test_disabling_a_user_ends_their_sessions(
    admin: httpx.Client,
    anon: httpx.Client,
    mailbox: Mailbox,
    tenant: Tenant,
    server: LiveServer,
) -> None:
    member = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    uid = _me(member)
    got = ok(admin.patch(f"/api/v1/users/{uid}", json={"status": "disabled", "name": "Gone"}))
    assert got["status"] == "disabled" and got["name"] == "Gone"
    assert member.get("/api/v1/auth/me").status_code == 401
    r = anon.post("/api/v1/auth/refresh", json={"refresh_token": member.refresh_token})  # type: ignore[attr-defined]
    assert r.status_code == 401
    email: str = member.email  # type: ignore[attr-defined]
    r = anon.post("/api/v1/auth/login", json={"email": email, "password": MEMBER_PASSWORD})
    assert r.status_code == 403
    update = next(r for r in audit_rows(server, uid) if r["action"] == "user.update")
    assert update["details"]["sessions_revoked"] == 2  # the accept and the login
    assert update["details"]["changes"]["status"] == ["active", "disabled"]
    assert update["org_id"] == tenant.org["id"]

    ok(admin.patch(f"/api/v1/users/{uid}", json={"status": "active"}))
    ok(anon.post("/api/v1/auth/login", json={"email": email, "password": MEMBER_PASSWORD}))


def test_nobody_disables_or_removes_themselves(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    me = ok(admin.get("/api/v1/auth/me"))["id"]
    assert admin.patch(f"/api/v1/users/{me}", json={"status": "disabled"}).status_code == 409
    assert admin.delete(f"/api/v1/users/{me}").status_code == 409
    boss = make_member(admin, mailbox, role="Org Admin", org_id=tenant.org["id"])
    assert boss.delete(f"/api/v1/users/{_me(boss)}").status_code == 409
    # Org Admins cannot touch a platform administrator's account.
    assert boss.get(f"/api/v1/users/{me}").status_code == 404
    r = admin.patch(f"/api/v1/users/{me}", json={"status": "invalid"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    r = admin.patch(f"/api/v1/users/{me}", json={"name": "nul\x00byte"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    r = admin.patch(f"/api/v1/users/{me}", json={"name": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"


def test_removing_a_membership_hides_the_org(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant, server: LiveServer
) -> None:
    oid = tenant.org["id"]
    member = make_member(admin, mailbox, role="Org Technician", org_id=oid)
    uid = _me(member)
    assert ok(member.get(f"/api/v1/orgs/{oid}"))["id"] == oid
    r = admin.delete(f"/api/v1/users/{uid}/membership", params={"partner_id": tenant.partner["id"]})
    assert r.status_code == 404
    assert admin.delete(f"/api/v1/users/{uid}/membership").status_code == 422
    ok(admin.delete(f"/api/v1/users/{uid}/membership", params={"org_id": oid}), 204)
    assert member.get(f"/api/v1/orgs/{oid}").status_code == 404
    assert ok(member.get("/api/v1/orgs"))["items"] == []
    assert ok(admin.get(f"/api/v1/users/{uid}"))["memberships"] == []
    assert (
        admin.delete(f"/api/v1/users/{uid}/membership", params={"org_id": oid}).status_code == 404
    )
    removal = audit_rows(server, uid)[-1]
    assert removal["action"] == "user.membership.remove" and removal["org_id"] == oid


def test_removing_a_user_takes_only_the_memberships_one_may_remove(
    admin: httpx.Client, mailbox: Mailbox, tenant: Tenant, server: LiveServer
) -> None:
    oid = tenant.org["id"]
    other = make_org(admin, tenant.partner["id"])
    boss = make_member(admin, mailbox, role="Org Admin", org_id=oid)
    member = make_member(admin, mailbox, role="Org Viewer", org_id=oid)
    uid = _me(member)
    ok(
        admin.put(
            f"/api/v1/users/{uid}/membership",
            json={"org_id": other["id"], "role_id": role_id(admin, "Org Viewer")},
        )
    )
    ok(boss.delete(f"/api/v1/users/{uid}"), 204)
    assert boss.get(f"/api/v1/users/{uid}").status_code == 404
    left = ok(admin.get(f"/api/v1/users/{uid}"))["memberships"]
    assert [m["org_id"] for m in left] == [other["id"]]
    assert member.get(f"/api/v1/orgs/{oid}").status_code == 404
    assert ok(member.get(f"/api/v1/orgs/{other['id']}"))["id"] == other["id"]
    removal = audit_rows(server, uid)[-1]
    assert removal["action"] == "user.remove" and removal["org_id"] == oid


def test_user_list_filters_search_and_sort(admin: httpx.Client, tenant: Tenant) -> None:
    pid, oid = tenant.partner["id"], tenant.org["id"]
    tag = unique("zz")
    a = invite(admin, email=f"{tag}-a@example.com", role="Org Viewer", org_id=oid)
    b = invite(admin, email=f"{tag}-b@example.com", role="Partner Viewer", partner_id=pid)
    page = ok(admin.get("/api/v1/users", params={"q": tag, "sort": "-email"}))
    assert [u["id"] for u in page["items"]] == [b["id"], a["id"]] and page["total"] == 2
    assert _ids(ok(admin.get("/api/v1/users", params={"partner_id": pid, "q": tag}))) == {
        a["id"],
        b["id"],
    }
    assert _ids(ok(admin.get("/api/v1/users", params={"org_id": oid, "q": tag}))) == {a["id"]}
    assert ok(admin.get("/api/v1/users", params={"q": tag, "status": "active"}))["total"] == 0
    assert ok(admin.get("/api/v1/users", params={"q": tag, "status": "invited"}))["total"] == 2
    r = admin.get("/api/v1/users", params={"sort": "password_hash"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sort"
    r = admin.get("/api/v1/users", params={"org_id": "nope"})
    assert r.status_code == 422 and "org_id" in r.json()["errors"][0]["field"]
