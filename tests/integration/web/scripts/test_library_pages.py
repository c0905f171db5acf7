"""Script library pages over HTTP: list with filters and scope, the editor form's field
errors, versions with a diff, tenant isolation and what a viewer may not do."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.factories import MEMBER_PASSWORD, Tenant, make_member, make_tenant, ok, unique
from tests.integration.scripts.helpers import make_script
from tests.integration.web.scripts.helpers import console, post
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

SCHEMA = {
    "type": "object",
    "properties": {
        "GREETING": {"type": "string", "default": "hello", "enum": ["hello", "hi"]},
        "TOKEN": {"type": "string", "writeOnly": True},
    },
    "required": ["TOKEN"],
}


def _form(tenant: Tenant, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": unique("Form script"),
        "description": "made through the form",
        "category": "maintenance",
        "owner": f"org:{tenant.org['id']}",
        "language": "bash",
        "os_types": ["linux"],
        "content": 'echo "one"\r\necho "two"\r\n',
        "parameters": "",
        "timeout_seconds": "120",
        "run_as": "",
        "output_field": "",
    }
    data.update(fields)
    return data


def test_library_lists_scoped_scripts_with_filters(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    mine = make_script(admin, tenant, category=unique("cat"), language="python", content="print(1)")
    other = make_script(admin, make_tenant(admin))
    with console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        r = c.get("/scripts", params={"org": tenant.org["id"]})
        assert r.status_code == 200
        assert mine["name"] in r.text
        assert other["name"] not in r.text  # another tenant's script is out of this scope
        assert "Built-in · read-only" in r.text  # system scripts are shared, and marked
        r = c.get("/scripts", params={"org": tenant.org["id"], "category": mine["category"]})
        assert mine["name"] in r.text and "Built-in · read-only" not in r.text
        r = c.get(
            "/scripts", params={"org": tenant.org["id"], "language": "bash", "q": mine["name"]}
        )
        assert f">{mine['name']}</a>" not in r.text
        assert "No scripts found" in r.text
        r = c.get("/scripts", params={"org": tenant.org["id"], "q": mine["name"][-8:]})
        assert mine["name"] in r.text
        r = c.get("/scripts", params={"os_type": "windows", "q": mine["name"]})
        assert "No scripts found" in r.text


def test_create_through_the_form_shows_field_errors_then_saves(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    with console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        page = c.get("/scripts/new", params={"org": tenant.org["id"]})
        assert page.status_code == 200
        assert 'name="content"' in page.text and 'data-island="script_editor"' in page.text
        r = post(c, "/scripts/new", _form(tenant, name="", os_types=[]))
        assert r.status_code == 422
        assert 'id="f-name-error"' in r.text
        assert 'id="f-os_types-error"' in r.text
        bad = {"type": "object", "properties": {"PATH": {"type": "string"}}}
        r = post(c, "/scripts/new", _form(tenant, parameters=json.dumps(bad)))
        assert r.status_code == 422
        assert "parameters.properties.PATH" in r.text and "reserved" in r.text
        assert "PATH" in r.text  # the submitted schema is kept for correcting
        r = post(c, "/scripts/new", _form(tenant, parameters="{not json"))
        assert r.status_code == 422 and "not valid JSON" in r.text
        r = post(c, "/scripts/new", _form(tenant, language="cmd"))
        assert r.status_code == 422 and "windows only" in r.text
        name = unique("Saved")
        r = post(c, "/scripts/new", _form(tenant, name=name, parameters=json.dumps(SCHEMA)))
        assert r.status_code == 303, r.text
        script_id = r.headers["location"].split("/scripts/")[1].split("?")[0]
        script = ok(admin.get(f"/api/v1/scripts/{script_id}"))
        assert script["name"] == name and script["org_id"] == tenant.org["id"]
        assert script["content"] == 'echo "one"\necho "two"\n'  # no CRLF reaches a shell
        assert script["parameters"]["properties"]["TOKEN"]["writeOnly"] is True
        detail = c.get(f"/scripts/{script_id}")
        assert detail.status_code == 200
        assert "secret" in detail.text and ">Run</a>" in detail.text and ">Edit</a>" in detail.text


def test_edit_makes_a_version_and_the_diff_shows_it(
    server: LiveServer, admin: httpx.Client, tenant: Tenant
) -> None:
    script = make_script(admin, tenant, content="echo keep\necho old line\n")
    sid = script["id"]
    with console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        edit = c.get(f"/scripts/{sid}/edit")
        assert edit.status_code == 200 and "echo old line" in edit.text
        data = _form(tenant, name=script["name"], content="echo keep\necho new line\n")
        del data["owner"]
        r = post(c, f"/scripts/{sid}/edit", {**data, "timeout_seconds": "0"})
        assert r.status_code == 422 and 'id="f-timeout_seconds-error"' in r.text
        r = post(c, f"/scripts/{sid}/edit", data)
        assert r.status_code == 303
        assert ok(admin.get(f"/api/v1/scripts/{sid}"))["version"] == 2
        r = c.get(f"/scripts/{sid}/versions")
        assert r.status_code == 200
        assert "Compare v1 with v2" in r.text
        assert "removed: </span>echo old line" in r.text
        assert "added: </span>echo new line" in r.text
        assert "1 line added, 1 removed" in r.text
        assert "Timeout (seconds)" in r.text  # 300 -> 120 listed as a changed setting
        split = c.get(f"/scripts/{sid}/versions", params={"a": 1, "b": 2, "view": "split"})
        assert 'data-diff="split"' in split.text and "added: </span>echo new line" in split.text
        assert c.get(f"/scripts/{sid}/versions", params={"a": 9}).status_code == 404
        r = post(c, f"/scripts/{sid}/delete", {})
        assert r.status_code == 303 and r.headers["location"].startswith("/scripts")
        assert c.get(f"/scripts/{sid}").status_code == 404


def test_system_script_is_read_only(server: LiveServer, admin: httpx.Client) -> None:
    system = ok(admin.get("/api/v1/scripts", params={"is_system": "true", "per_page": 1}))
    sid = system["items"][0]["id"]
    with console(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) as c:
        page = c.get(f"/scripts/{sid}")
        assert page.status_code == 200 and "read-only" in page.text
        assert ">Edit</a>" not in page.text and ">Delete</button>" not in page.text
        assert c.get(f"/scripts/{sid}/edit").status_code == 403
        assert post(c, f"/scripts/{sid}/delete", {}).status_code == 403


def test_other_tenant_and_viewer_are_refused(
    server: LiveServer, admin: httpx.Client, tenant: Tenant, mailbox: Mailbox
) -> None:
    script = make_script(admin, tenant)
    foreign = make_script(admin, make_tenant(admin))
    viewer = make_member(admin, mailbox, role="Org Viewer", org_id=tenant.org["id"])
    with console(server.url, viewer.email, MEMBER_PASSWORD) as c:  # type: ignore[attr-defined]
        assert c.get(f"/scripts/{foreign['id']}").status_code == 404
        assert c.get(f"/scripts/{foreign['id']}/versions").status_code == 404
        assert c.get(f"/scripts/{uuid.uuid4()}").status_code == 404
        page = c.get(f"/scripts/{script['id']}")
        assert page.status_code == 200
        for offer in (">Run</a>", ">Edit</a>", ">Delete</button>"):
            assert offer not in page.text
        library = c.get("/scripts")
        assert script["name"] in library.text and foreign["name"] not in library.text
        assert "New script" not in library.text and "Run a script" not in library.text
        assert c.get("/scripts/new").status_code == 403
        assert c.get(f"/scripts/{script['id']}/edit").status_code == 403
        assert c.get("/scripts/run", params={"script_id": script["id"]}).status_code == 403
        data = _form(tenant, name="forged")
        del data["owner"]
        assert post(c, f"/scripts/{script['id']}/edit", data).status_code == 403
        assert post(c, "/scripts/new", _form(tenant)).status_code == 403
        assert post(c, f"/scripts/{script['id']}/delete", {}).status_code == 403
        run = post(c, "/scripts/run", {"script_id": script["id"], "org_ids": tenant.org["id"]})
        assert run.status_code == 403
    assert ok(admin.get(f"/api/v1/scripts/{script['id']}"))["version"] == 1
    viewer.close()
