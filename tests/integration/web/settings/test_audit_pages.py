"""/settings/audit over HTTP: filters, pages, row details, and the export links, whose
files hold exactly the filtered rows; audit:read and audit:export decide what is shown."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.factories import Tenant, make_member, make_site, ok, unique
from tests.integration.web.settings import admin_console, member_console
from tests.support.mailbox import Mailbox
from tests.support.server import LiveServer

ROW = re.compile(r'<tr data-audit-id="([0-9a-f-]+)"')
EXPORT = re.compile(r'<a class="btn" href="([^"]+)" download data-export="(csv|json)"')


def _exports(page: str) -> dict[str, str]:
    return {kind: html.unescape(href) for href, kind in EXPORT.findall(page)}


def test_filters_paging_details_and_export_of_what_is_shown(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    names = [unique("audited") for _ in range(3)]
    for name in names:
        make_site(admin, org, name=name)
    with admin_console(server) as c:
        page = c.get("/settings/audit", org=org, action="site.*", per_page=25)
        assert page.status_code == 200
        shown = ROW.findall(page.text)
        assert len(shown) == 4  # the tenant's first site and these three
        for name in names:
            assert name in page.text
        assert "<code>partner.create</code>" not in page.text  # outside the filter
        assert '<pre class="mb-0 small" data-audit-details' in page.text

        # a text search narrows it to one row; its details are pretty-printed JSON
        one = c.get("/settings/audit", org=org, q=names[1])
        assert len(ROW.findall(one.text)) == 1

        exports = _exports(page.text)
        assert set(exports) == {"csv", "json"}
        assert exports["csv"].startswith("/api/v1/audit/logs/export?")
        got = c.http.get(exports["csv"])
        assert got.status_code == 200, got.text
        assert got.headers["content-disposition"].startswith("attachment;")
        rows = list(csv.DictReader(io.StringIO(got.text)))
        assert sorted(r["id"] for r in rows) == sorted(shown)
        assert {r["action"] for r in rows} == {"site.create"}
        as_json = json.loads(c.http.get(exports["json"]).text)
        assert sorted(r["id"] for r in as_json) == sorted(shown)

        assert "Rows 1\u20134 of 4" in page.text

        # a day range that excludes today shows nothing; to is inclusive of its day
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        today = datetime.now(UTC).date().isoformat()
        assert ROW.findall(c.get("/settings/audit", org=org, **{"from": tomorrow}).text) == []
        same_day = c.get(
            "/settings/audit", org=org, action="site.*", **{"from": today, "to": today}
        )
        assert len(ROW.findall(same_day.text)) == 4
        empty_export = c.http.get(
            _exports(c.get("/settings/audit", org=org, **{"from": tomorrow}).text)["csv"]
        )
        assert list(csv.DictReader(io.StringIO(empty_export.text))) == []


def test_pages_follow_one_another_with_the_filters_kept(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    org = tenant.org["id"]
    for _ in range(26):
        make_site(admin, org)
    with admin_console(server) as c:
        first = c.get("/settings/audit", org=org, action="site.create", per_page=25)
        assert len(ROW.findall(first.text)) == 25 and "Rows 1\u201325 of 27" in first.text
        link = re.search(r'<a class="page-link" href="([^"]+)" rel="next"', first.text)
        assert link
        second = c.http.get(html.unescape(link.group(1)))
        assert second.status_code == 200 and "Rows 26\u201327 of 27" in second.text
        assert not set(ROW.findall(first.text)) & set(ROW.findall(second.text))


def test_bad_filters_are_answered_beside_the_field(server: LiveServer) -> None:
    with admin_console(server) as c:
        r = c.get("/settings/audit", action="org*x")
        assert r.status_code == 422
        assert re.search(r'id="a-action-error">[^<]*not an action name', r.text)
        assert "data-export" not in r.text
        r = c.get("/settings/audit", **{"from": "2025-02-10", "to": "2025-01-01"})
        assert r.status_code == 422 and 'id="a-from-error"' in r.text
        r = c.get("/settings/audit", **{"from": "yesterday"})
        assert r.status_code == 422 and "YYYY-MM-DD" in r.text


def test_audit_read_without_export_hides_export_and_others_see_nothing(
    server: LiveServer, admin: httpx.Client, mailbox: Mailbox, tenant: Tenant
) -> None:
    role = ok(
        admin.post(
            "/api/v1/roles",
            json={
                "name": unique("Auditor"),
                "scope": "organization",
                "org_id": tenant.org["id"],
                "permissions": ["audit:read", "orgs:read"],
            },
        ),
        201,
    )
    auditor = make_member(
        admin, mailbox, role="Org Viewer", org_id=tenant.org["id"], role_id=role["id"]
    )
    make_site(admin, tenant.org["id"], name=unique("seen"))
    with member_console(server, auditor) as c:
        page = c.get("/settings/audit")
        assert page.status_code == 200 and ROW.findall(page.text)
        assert "data-export" not in page.text and "Export CSV" not in page.text
        # the partner's own rows are not theirs
        assert "partner.create" not in page.text
        query = "/api/v1/audit/logs/export?format=csv"
        assert c.http.get(query).status_code == 403
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    with member_console(server, viewer) as c:
        r = c.get("/settings/audit")
        assert r.status_code == 403 and "audit:read" in r.text
