"""Partners, organizations and sites over HTTP, as the platform administrator."""

from __future__ import annotations

import httpx

from tests.factories import make_org, make_partner, make_site, ok, unique


def test_partner_lifecycle(admin: httpx.Client) -> None:
    name = unique("Acme IT")
    partner = ok(admin.post("/api/v1/partners", json={"name": name, "plan": "pro"}), 201)
    assert partner["slug"].startswith("acme-it")
    got = ok(admin.get(f"/api/v1/partners/{partner['id']}"))
    assert got["name"] == name and got["plan"] == "pro"
    patched = ok(admin.patch(f"/api/v1/partners/{partner['id']}", json={"billing_email": "b@x.io"}))
    assert patched["billing_email"] == "b@x.io"
    ok(admin.delete(f"/api/v1/partners/{partner['id']}"), 204)
    assert admin.get(f"/api/v1/partners/{partner['id']}").status_code == 404


def test_duplicate_slug_is_a_conflict_naming_the_field(admin: httpx.Client) -> None:
    slug = unique("dup")
    make_partner(admin, slug=slug)
    r = admin.post("/api/v1/partners", json={"name": "Other", "slug": slug})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "slug"


def test_slug_of_a_deleted_partner_can_be_reused(admin: httpx.Client) -> None:
    slug = unique("reuse")
    first = make_partner(admin, slug=slug)
    ok(admin.delete(f"/api/v1/partners/{first['id']}"), 204)
    second = make_partner(admin, slug=slug)
    assert second["id"] != first["id"]


def test_partner_with_organizations_cannot_be_deleted(admin: httpx.Client) -> None:
    partner = make_partner(admin)
    make_org(admin, partner["id"])
    r = admin.delete(f"/api/v1/partners/{partner['id']}")
    assert r.status_code == 409
    assert "organization" in r.json()["detail"]


def test_org_and_sites(admin: httpx.Client) -> None:
    partner = make_partner(admin)
    org = make_org(admin, partner["id"], status="trial", contract_start="2026-01-01")
    assert org["partner_id"] == partner["id"] and org["status"] == "trial"
    site = make_site(
        admin, org["id"], timezone="Europe/Paris", address={"city": "Paris", "country": "FR"}
    )
    assert site["org_id"] == org["id"] and site["partner_id"] == partner["id"]
    listed = ok(admin.get(f"/api/v1/orgs/{org['id']}/sites"))
    assert [s["id"] for s in listed["items"]] == [site["id"]]
    ok(admin.patch(f"/api/v1/sites/{site['id']}", json={"name": "HQ"}))
    assert ok(admin.get(f"/api/v1/sites/{site['id']}"))["name"] == "HQ"
    ok(admin.delete(f"/api/v1/orgs/{org['id']}"), 204)
    assert admin.get(f"/api/v1/sites/{site['id']}").status_code == 404


def test_unknown_timezone_and_bad_contract_dates_are_rejected(admin: httpx.Client) -> None:
    partner = make_partner(admin)
    r = admin.post(
        "/api/v1/orgs",
        json={
            "partner_id": partner["id"],
            "name": "X",
            "contract_start": "2026-05-01",
            "contract_end": "2026-01-01",
        },
    )
    assert r.status_code == 422
    org = make_org(admin, partner["id"])
    r = admin.post(
        f"/api/v1/orgs/{org['id']}/sites", json={"name": "S", "timezone": "Mars/Olympus"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "timezone"


def test_partner_organization_limit(admin: httpx.Client) -> None:
    partner = make_partner(admin, max_organizations=1)
    make_org(admin, partner["id"])
    r = admin.post("/api/v1/orgs", json={"partner_id": partner["id"], "name": "Second"})
    assert r.status_code == 409


def test_lists_paginate_filter_search_and_sort_the_same_way(admin: httpx.Client) -> None:
    partner = make_partner(admin)
    tag = unique("zeta")
    names = [f"{tag}-{c}" for c in "cab"]
    for n in names:
        make_org(admin, partner["id"], name=n, status="trial" if n.endswith("a") else "active")
    page1 = ok(admin.get("/api/v1/orgs", params={"q": tag, "sort": "-name", "per_page": 2}))
    assert page1["total"] == 3 and page1["pages"] == 2
    assert [o["name"] for o in page1["items"]] == sorted(names, reverse=True)[:2]
    page2 = ok(
        admin.get("/api/v1/orgs", params={"q": tag, "sort": "-name", "per_page": 2, "page": 2})
    )
    assert [o["name"] for o in page2["items"]] == [sorted(names)[0]]
    trial = ok(admin.get("/api/v1/orgs", params={"q": tag, "status": "trial"}))
    assert [o["name"] for o in trial["items"]] == [f"{tag}-a"]
    by_partner = ok(admin.get("/api/v1/orgs", params={"partner_id": partner["id"]}))
    assert by_partner["total"] == 3


def test_bad_list_parameters_are_4xx_naming_the_parameter(admin: httpx.Client) -> None:
    r = admin.get("/api/v1/orgs", params={"sort": "password"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sort"
    r = admin.get("/api/v1/orgs", params={"partner_id": "not-a-uuid"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "partner_id"
    r = admin.get("/api/v1/orgs", params={"per_page": 100000})
    assert r.status_code == 422 and "per_page" in r.json()["errors"][0]["field"]
    r = admin.get("/api/v1/orgs", params={"q": "%_\\"})
    assert r.status_code == 200


def test_unauthenticated_requests_are_refused(anon: httpx.Client) -> None:
    r = anon.get("/api/v1/orgs")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    r = anon.get("/api/v1/orgs", headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 401
