"""/settings/tenancy over HTTP: partners, organizations and sites created, edited and
deleted through the forms; bad input answered beside the field; another tenant's rows
are 404; a viewer is offered nothing to change and a forged form is refused."""

from __future__ import annotations

import httpx

from tests.factories import Tenant, make_member, make_site, make_tenant, ok, unique
from tests.integration.web.settings import admin_console, field_error, location, member_console
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer


def test_partner_org_and_site_lifecycle_through_the_forms(
    server: LiveServer, admin: httpx.Client
) -> None:
    name = unique("Partner")
    with admin_console(server) as c:
        page = c.get("/settings/tenancy/partners/new")
        assert page.status_code == 200 and 'name="max_organizations"' in page.text

        bad = c.post("/settings/tenancy/partners/new", {"name": "", "max_devices": "lots"})
        assert bad.status_code == 422
        assert field_error(bad.text, "name") == "Field required"
        assert "valid integer" in (field_error(bad.text, "max_devices") or "")
        assert 'value="lots"' in bad.text  # what was typed is kept

        made = c.post(
            "/settings/tenancy/partners/new",
            {"name": name, "type": "msp", "plan": "pro", "max_organizations": "5"},
        )
        partner_id = location(made).split("partner=")[1]
        partner = ok(admin.get(f"/api/v1/partners/{partner_id}"))
        assert (partner["name"], partner["plan"], partner["max_organizations"]) == (name, "pro", 5)

        taken = c.post(
            "/settings/tenancy/partners/new", {"name": unique("P"), "slug": partner["slug"]}
        )
        assert taken.status_code == 409
        assert "already in use" in (field_error(taken.text, "slug") or "")

        listing = c.get("/settings/tenancy", partner=partner_id)
        assert listing.status_code == 200 and name in listing.text
        assert "No organizations yet" in listing.text

        # an organization in it; contract dates in the wrong order are refused
        org_name = unique("Org")
        wrong = c.post(
            "/settings/tenancy/orgs/new",
            {
                "partner_id": partner_id,
                "name": org_name,
                "contract_start": "2025-05-01",
                "contract_end": "2025-01-01",
            },
        )
        assert wrong.status_code == 422
        assert "contract_end must not be before contract_start" in wrong.text
        org_id = location(
            c.post("/settings/tenancy/orgs/new", {"partner_id": partner_id, "name": org_name})
        ).split("org=")[1]
        assert ok(admin.get(f"/api/v1/orgs/{org_id}"))["partner_id"] == partner_id

        # a site with a made-up time zone, then a real one, then an edit
        bad_tz = c.post(
            f"/settings/tenancy/orgs/{org_id}/sites/new",
            {"name": "HQ", "timezone": "Mars/Olympus"},
        )
        assert bad_tz.status_code == 422
        assert "not a known IANA time zone" in (field_error(bad_tz.text, "timezone") or "")
        bad_mail = c.post(
            f"/settings/tenancy/orgs/{org_id}/sites/new",
            {"name": "HQ", "contact.email": "not-an-email"},
        )
        assert bad_mail.status_code == 422 and field_error(bad_mail.text, "contact.email")
        location(
            c.post(
                f"/settings/tenancy/orgs/{org_id}/sites/new",
                {"name": "HQ", "timezone": "Europe/Oslo", "address.city": "Oslo"},
            )
        )
        sites = ok(admin.get(f"/api/v1/orgs/{org_id}/sites"))["items"]
        assert [(s["name"], s["timezone"], s["address"]["city"]) for s in sites] == [
            ("HQ", "Europe/Oslo", "Oslo")
        ]
        site_id = sites[0]["id"]
        form = c.get(f"/settings/tenancy/sites/{site_id}/edit")
        assert 'value="Europe/Oslo"' in form.text and 'value="Oslo"' in form.text
        location(
            c.post(
                f"/settings/tenancy/sites/{site_id}/edit",
                {"name": "Head office", "timezone": "America/Chicago", "address.city": "Oslo"},
            )
        )
        assert ok(admin.get(f"/api/v1/sites/{site_id}"))["timezone"] == "America/Chicago"
        emptied = c.post(f"/settings/tenancy/sites/{site_id}/edit", {"name": ""})
        assert emptied.status_code == 422 and field_error(emptied.text, "name")
        org_page = c.get("/settings/tenancy", org=org_id)
        assert "Head office" in org_page.text and "America/Chicago" in org_page.text

        # deleting: the partner still has an organization -> 409 explained in the alert
        refused = c.post(f"/settings/tenancy/partners/{partner_id}/delete", htmx=True)
        assert refused.status_code == 409
        assert refused.headers["HX-Retarget"] == "#flash-area"
        assert "still has 1 organization(s); delete them first" in refused.text
        gone = c.post(f"/settings/tenancy/orgs/{org_id}/delete", htmx=True)
        assert location(gone) == f"/settings/tenancy?partner={partner_id}"
        assert admin.get(f"/api/v1/sites/{site_id}").status_code == 404  # went with its org
        assert location(c.post(f"/settings/tenancy/partners/{partner_id}/delete", htmx=True))
        assert admin.get(f"/api/v1/partners/{partner_id}").status_code == 404


def test_edit_keeps_what_an_empty_optional_field_does_not_say(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org_id = tenant.org["id"]
    with admin_console(server) as c:
        form = c.get(f"/settings/tenancy/orgs/{org_id}/edit")
        assert form.status_code == 200 and tenant.org["name"] in form.text
        location(
            c.post(
                f"/settings/tenancy/orgs/{org_id}/edit",
                {"name": "Renamed " + tenant.org["name"], "slug": "", "max_devices": "40"},
            )
        )
    org = ok(admin.get(f"/api/v1/orgs/{org_id}"))
    assert org["name"].startswith("Renamed ") and org["slug"] == tenant.org["slug"]
    assert org["max_devices"] == 40


def test_another_tenants_rows_are_not_found(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    other = make_site(admin, tenant.org["id"])  # same tenant, for contrast
    member = make_member(admin, mailbox, role="Org Admin", org_id=tenant.org["id"])
    stranger = make_tenant(admin)
    with member_console(server, member) as c:
        assert c.get(f"/settings/tenancy/sites/{other['id']}/edit").status_code == 200
        for path in (
            f"/settings/tenancy/orgs/{stranger.org['id']}/edit",
            f"/settings/tenancy/sites/{stranger.site['id']}/edit",
            f"/settings/tenancy/orgs/{stranger.org['id']}/sites/new",
        ):
            assert c.get(path).status_code == 404, path
        assert c.get("/settings/tenancy", org=stranger.org["id"]).status_code == 404
        for path in (
            f"/settings/tenancy/sites/{stranger.site['id']}/delete",
            f"/settings/tenancy/orgs/{stranger.org['id']}/delete",
            f"/settings/tenancy/partners/{stranger.partner['id']}/delete",
        ):
            assert c.post(path, htmx=True).status_code == 404, path
        r = c.post(f"/settings/tenancy/sites/{stranger.site['id']}/edit", {"name": "mine now"})
        assert r.status_code == 404
        listing = c.get("/settings/tenancy")
        assert tenant.org["name"] in listing.text and stranger.org["name"] not in listing.text
    assert ok(admin.get(f"/api/v1/sites/{stranger.site['id']}"))["name"] == stranger.site["name"]


def test_a_viewer_is_offered_no_changes_and_a_forged_form_is_refused(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    with member_console(server, viewer) as c:
        page = c.get("/settings/tenancy", org=tenant.org["id"])
        assert page.status_code == 200 and tenant.site["name"] in page.text
        for offer in ("Add site", ">Edit<", ">Delete<", "/delete"):
            assert offer not in page.text, offer
        assert c.get(f"/settings/tenancy/orgs/{tenant.org['id']}/sites/new").status_code == 403
        forged = c.post(f"/settings/tenancy/orgs/{tenant.org['id']}/sites/new", {"name": "Forged"})
        assert forged.status_code == 403
        deleted = c.post(f"/settings/tenancy/sites/{tenant.site['id']}/delete", htmx=True)
        assert deleted.status_code == 403
        no_token = c.http.post(
            f"/settings/tenancy/sites/{tenant.site['id']}/delete", data={"csrf_token": "x"}
        )
        assert no_token.status_code == 403
    names = [s["name"] for s in ok(admin.get(f"/api/v1/orgs/{tenant.org['id']}/sites"))["items"]]
    assert "Forged" not in names and tenant.site["name"] in names
