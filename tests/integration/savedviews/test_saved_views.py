"""Saved views: a user's own named filters; another user's view answers 404."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import Tenant, make_member, make_tenant, ok, unique
from tests.integration.devices.selection import problem_fields
from tests.support.mailbox import Mailbox


class People:
    def __init__(self, admin: httpx.Client, mailbox: Mailbox) -> None:
        self.tenant: Tenant = make_tenant(admin)
        org = self.tenant.org["id"]
        self.alice = make_member(admin, mailbox, role="Org Technician", org_id=org)
        self.bob = make_member(admin, mailbox, role="Org Admin", org_id=org)


@pytest.fixture(scope="module")
def people(admin: httpx.Client, mailbox: Mailbox) -> People:
    return People(admin, mailbox)


def create(api: httpx.Client, name: str, filters: dict[str, object]) -> httpx.Response:
    return api.post("/api/v1/saved-views", json={"name": name, "filters": filters})


def test_views_are_private_to_their_user(people: People) -> None:
    org = people.tenant.org["id"]
    name = unique("Offline servers")
    filters = {
        "org_id": org,
        "status": ["offline"],
        "custom_field": "env:prod",
        "sort": "-last_seen_at",
    }
    view = ok(create(people.alice, name, filters), 201)
    assert view["resource"] == "devices" and view["filters"] == filters
    mine = ok(people.alice.get("/api/v1/saved-views"))["items"]
    assert [v["id"] for v in mine] == [view["id"]]
    assert ok(people.bob.get("/api/v1/saved-views"))["items"] == []
    path = f"/api/v1/saved-views/{view['id']}"
    assert people.bob.get(path).status_code == 404
    assert people.bob.patch(path, json={"name": "mine now"}).status_code == 404
    assert people.bob.delete(path).status_code == 404
    # The same name is free for another user, taken (case-insensitively) for the owner.
    assert create(people.bob, name, {}).status_code == 201
    assert create(people.alice, name.upper(), {}).status_code == 409
    renamed = ok(people.alice.patch(path, json={"name": "Renamed", "filters": {"tag": "web"}}))
    assert renamed["name"] == "Renamed" and renamed["filters"] == {"tag": "web"}
    assert ok(people.alice.get(path))["name"] == "Renamed"
    assert people.alice.delete(path).status_code == 204
    assert people.alice.get(path).status_code == 404


def test_filters_are_checked_against_the_device_list(people: People) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"nope": "1"}, "filters.nope"),
        ({"org_id": "not-a-uuid"}, "filters.org_id"),
        ({"has_pending_reboot": "maybe"}, "filters.has_pending_reboot"),
        ({"sort": "colour"}, "filters.sort"),
        ({"custom_field": "no colon"}, "filters.custom_field"),
        ({"last_seen_after": "yesterday"}, "filters.last_seen_after"),
        ({"tag": {"a": 1}}, "filters.tag"),
    ]
    for filters, where in cases:
        assert problem_fields(create(people.alice, unique("v"), filters)) == [where], filters
    assert problem_fields(create(people.alice, "   ", {})) == ["name"]
    assert problem_fields(
        people.alice.post("/api/v1/saved-views", json={"name": "x", "resource": "alerts"})
    ) == ["resource"]
