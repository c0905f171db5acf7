"""Enrollment over HTTP: keys enforced, devices created in the right place, tokens
hashed and replaced on re-enrollment, limits and uses that hold under concurrency."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from breeze.agents.models import EnrollmentKey
from breeze.core.security import token_hash
from tests.factories import Tenant, make_org, make_partner, make_site, make_tenant, ok
from tests.integration.agents.helpers import (
    audit_of,
    beat,
    device_rows,
    enroll,
    enroll_body,
    make_enrollment_key,
    run,
)
from tests.support.server import LiveServer


def test_enroll_creates_a_device_in_the_keys_org_and_site(
    admin: httpx.Client, server: LiveServer
) -> None:
    tenant = make_tenant(admin)
    second_site = make_site(admin, tenant.org["id"])
    key = make_enrollment_key(admin, tenant.org["id"], site_id=second_site["id"])
    r = enroll(server.url, key["key"], machine_id="machine-0001", hostname="web-01")
    answer = ok(r)
    assert re.fullmatch(r"agt_[0-9a-f]{20}", answer["agent_id"])
    assert answer["auth_token"].startswith("brz_agt_")
    config = answer["config"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", config.pop("command_public_key"))
    assert config == {"heartbeat_interval_seconds": 60, "inventory_interval_seconds": 3600}
    assert r.headers["x-breeze-config-version"] == "1"
    [device] = device_rows(server, tenant.org["id"])
    assert str(device.id) == answer["device_id"]
    assert str(device.site_id) == second_site["id"]
    assert str(device.partner_id) == tenant.partner["id"]
    assert (device.hostname, device.machine_id, device.os_type) == (
        "web-01",
        "machine-0001",
        "linux",
    )
    assert (device.status, device.agent_id) == ("online", answer["agent_id"])
    assert device.agent_token_hash == token_hash(answer["auth_token"])
    assert device.last_seen_at is not None and device.enrolled_at is not None
    assert str(device.enrollment_key_id) == key["id"]
    assert ok(admin.get(f"/api/v1/enrollment-keys/{key['id']}"))["uses"] == 1
    [audit] = audit_of(server, answer["device_id"])
    assert (audit.action, audit.actor_type) == ("device.enroll", "agent")
    assert (str(audit.org_id), str(audit.partner_id)) == (tenant.org["id"], tenant.partner["id"])
    assert audit.details["re_enrolled"] is False
    assert answer["auth_token"] not in str(audit.details)


def test_a_key_without_site_uses_the_orgs_first_site(
    admin: httpx.Client, server: LiveServer
) -> None:
    tenant = make_tenant(admin)
    make_site(admin, tenant.org["id"])  # a newer site
    key = make_enrollment_key(admin, tenant.org["id"])
    device_id = ok(enroll(server.url, key["key"]))["device_id"]
    [device] = device_rows(server, tenant.org["id"])
    assert (str(device.id), str(device.site_id)) == (device_id, tenant.site["id"])


def test_an_org_without_site_refuses_with_409(admin: httpx.Client, server: LiveServer) -> None:
    tenant = make_tenant(admin)
    key = make_enrollment_key(admin, tenant.org["id"])
    ok(admin.delete(f"/api/v1/sites/{tenant.site['id']}"), 204)
    r = enroll(server.url, key["key"])
    assert r.status_code == 409 and "site" in r.json()["detail"]
    assert ok(admin.get(f"/api/v1/enrollment-keys/{key['id']}"))["uses"] == 0


def test_unusable_keys_are_refused_with_401(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    r = enroll(server.url, "brz_enr_" + "x" * 43)
    assert r.status_code == 401 and "not valid" in r.json()["detail"]

    revoked = make_enrollment_key(admin, tenant.org["id"])
    ok(admin.delete(f"/api/v1/enrollment-keys/{revoked['id']}"), 204)
    r = enroll(server.url, revoked["key"])
    assert r.status_code == 401 and "revoked" in r.json()["detail"]

    expired = make_enrollment_key(admin, tenant.org["id"])
    past = datetime.now(UTC) - timedelta(minutes=1)
    run(
        server,
        update(EnrollmentKey)
        .where(EnrollmentKey.id == uuid.UUID(expired["id"]))
        .values(expires_at=past),
    )
    r = enroll(server.url, expired["key"])
    assert r.status_code == 401 and "expired" in r.json()["detail"]

    once = make_enrollment_key(admin, tenant.org["id"], max_uses=1)
    ok(enroll(server.url, once["key"]))
    r = enroll(server.url, once["key"])
    assert r.status_code == 401 and "used up" in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert ok(admin.get(f"/api/v1/enrollment-keys/{once['id']}"))["uses"] == 1


def test_bad_enroll_body_names_the_field(tenant: Tenant, server: LiveServer) -> None:
    for fields, field in [
        ({"os_type": "beos"}, "os_type"),
        ({"machine_id": "short"}, "machine_id"),
        ({"hostname": ""}, "hostname"),
        ({"surprise": 1}, "surprise"),
    ]:
        with httpx.Client(base_url=server.url, timeout=30) as anon:
            r = anon.post("/api/v1/agents/enroll", json=enroll_body("brz_enr_whatever", **fields))
        assert r.status_code == 422, r.text
        assert field in {e["field"] for e in r.json()["errors"]}, r.text


def test_re_enrolling_a_machine_replaces_its_token(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    key = make_enrollment_key(admin, tenant.org["id"])
    first = ok(enroll(server.url, key["key"], machine_id="machine-again", hostname="old-name"))
    assert beat(server.url, first).status_code == 200
    second = ok(
        enroll(
            server.url,
            key["key"],
            machine_id="machine-again",
            hostname="new-name",
            agent_version="0.2.0",
        )
    )
    assert (second["device_id"], second["agent_id"]) == (first["device_id"], first["agent_id"])
    assert second["auth_token"] != first["auth_token"]
    assert beat(server.url, first).status_code == 401
    assert beat(server.url, second, agent_version="0.2.0").status_code == 200

    def machine_rows() -> list[Any]:
        return [d for d in device_rows(server, tenant.org["id"]) if d.machine_id == "machine-again"]

    # Beats are written by the batch flush (within a second): wait until the re-enrolled
    # agent's beat has landed; a beat accepted before re-enrolling may land in between.
    deadline = time.monotonic() + 10
    while machine_rows()[0].agent_version != "0.2.0" and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = machine_rows()
    assert len(rows) == 1
    assert (rows[0].hostname, rows[0].agent_version) == ("new-name", "0.2.0")
    assert rows[0].agent_token_hash == token_hash(second["auth_token"])
    actions = audit_of(server, first["device_id"])
    assert [a.details["re_enrolled"] for a in actions] == [False, True]
    # The same machine in another organization is another device.
    other = make_tenant(admin)
    elsewhere = ok(
        enroll(
            server.url,
            make_enrollment_key(admin, other.org["id"])["key"],
            machine_id="machine-again",
        )
    )
    assert elsewhere["device_id"] != first["device_id"]


def test_device_limits_of_org_and_partner(admin: httpx.Client, server: LiveServer) -> None:
    partner = make_partner(admin, max_devices=2)
    org_a = make_org(admin, partner["id"], max_devices=1)
    org_b = make_org(admin, partner["id"])
    for org in (org_a, org_b):
        make_site(admin, org["id"])
    key_a = make_enrollment_key(admin, org_a["id"])
    key_b = make_enrollment_key(admin, org_b["id"])
    known = ok(enroll(server.url, key_a["key"], machine_id="limit-machine-a"))
    r = enroll(server.url, key_a["key"])
    assert r.status_code == 409 and "organization allows 1" in r.json()["detail"]
    # Re-enrolling a device already counted is not a new device.
    again = ok(enroll(server.url, key_a["key"], machine_id="limit-machine-a"))
    assert again["device_id"] == known["device_id"]
    ok(enroll(server.url, key_b["key"]))
    r = enroll(server.url, key_b["key"])
    assert r.status_code == 409 and "partner's plan allows 2" in r.json()["detail"]


async def _enroll_all(base_url: str, bodies: list[dict[str, object]]) -> list[int]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as c:
        answers = await asyncio.gather(*(c.post("/api/v1/agents/enroll", json=b) for b in bodies))
    return [a.status_code for a in answers]


def test_max_uses_holds_under_concurrent_enrollments(
    admin: httpx.Client, tenant: Tenant, server: LiveServer
) -> None:
    key = make_enrollment_key(admin, tenant.org["id"], max_uses=3)
    codes = asyncio.run(_enroll_all(server.url, [enroll_body(key["key"]) for _ in range(12)]))
    assert sorted(codes) == [200] * 3 + [401] * 9, codes
    assert ok(admin.get(f"/api/v1/enrollment-keys/{key['id']}"))["uses"] == 3
    assert len(device_rows(server, tenant.org["id"])) == 3
