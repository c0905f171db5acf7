"""Malformed input gets a clear 4xx problem+json, never a 500, and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import make_partner, ok


def _problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = r.json()
    assert body["status"] == status and body["detail"]
    return body


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b'{"name": 5}', b"\xff\xfe", b'"x"'])
def test_malformed_json_bodies(admin: httpx.Client, raw: bytes) -> None:
    r = admin.post("/api/v1/partners", content=raw, headers={"content-type": "application/json"})
    _problem(r, 422)


def test_unknown_fields_are_named(admin: httpx.Client) -> None:
    body = _problem(admin.post("/api/v1/partners", json={"name": "X", "colour": "red"}), 422)
    assert body["errors"] == [{"field": "colour", "message": "Extra inputs are not permitted"}]


def test_wrong_types_name_the_field(admin: httpx.Client) -> None:
    body = _problem(admin.post("/api/v1/partners", json={"name": "X", "max_devices": "many"}), 422)
    assert body["errors"][0]["field"] == "max_devices"  # type: ignore[index]


def test_invalid_path_ids(admin: httpx.Client) -> None:
    body = _problem(admin.get("/api/v1/orgs/not-a-uuid"), 422)
    assert "org_id" in body["errors"][0]["field"]  # type: ignore[index]
    _problem(admin.get("/api/v1/orgs/00000000-0000-0000-0000-000000000000"), 404)


def test_oversized_body_is_413_and_nothing_is_created(admin: httpx.Client) -> None:
    name = "big-" + "x" * (2 * 1024 * 1024)
    _problem(admin.post("/api/v1/partners", json={"name": name}), 413)
    assert ok(admin.get("/api/v1/partners", params={"q": "big-xxxx"}))["total"] == 0


def test_oversized_chunked_body_is_413(admin: httpx.Client) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    r = admin.post(
        "/api/v1/partners", content=chunks(), headers={"content-type": "application/json"}
    )
    _problem(r, 413)


def test_unknown_route_and_method(admin: httpx.Client) -> None:
    _problem(admin.get("/api/v1/nothing-here"), 404)
    _problem(admin.put("/api/v1/partners"), 405)


def test_failed_validation_changes_nothing(admin: httpx.Client) -> None:
    partner = make_partner(admin)
    r = admin.patch(f"/api/v1/partners/{partner['id']}", json={"name": "", "plan": "pro"})
    _problem(r, 422)
    assert ok(admin.get(f"/api/v1/partners/{partner['id']}"))["plan"] == partner["plan"]


def test_null_for_a_required_field_is_rejected(admin: httpx.Client) -> None:
    partner = make_partner(admin)
    body = _problem(admin.patch(f"/api/v1/partners/{partner['id']}", json={"name": None}), 422)
    assert body["errors"][0]["field"] == "name"  # type: ignore[index]


def test_nul_characters_and_huge_numbers_are_4xx_on_every_backend(admin: httpx.Client) -> None:
    _problem(admin.post("/api/v1/partners", json={"name": "nul\u0000name"}), 422)
    _problem(admin.get("/api/v1/orgs", params={"q": "a\x00b"}), 422)
    _problem(
        admin.patch(
            "/api/v1/partners/00000000-0000-0000-0000-000000000000",
            json={"settings": {"k": "v\u0000"}},
        ),
        422,
    )
    body = _problem(
        admin.post("/api/v1/partners", json={"name": unique_name(), "max_devices": 2**40}), 422
    )
    assert body["errors"][0]["field"] == "max_devices"  # type: ignore[index]
    # an escaped backslash followed by "u0000" is ordinary text
    created = ok(admin.post("/api/v1/partners", json={"name": unique_name() + "\\u0000"}), 201)
    assert created["name"].endswith("\\u0000")
    # the connection survives and later requests work
    ok(admin.get("/api/v1/partners"))


def unique_name() -> str:
    import uuid

    return f"big-{uuid.uuid4().hex[:8]}"


def test_nul_refusals_name_the_field(admin: httpx.Client) -> None:
    body = _problem(
        admin.post("/api/v1/partners", json={"name": "ok", "settings": {"a": ["x", "y\u0000"]}}),
        422,
    )
    assert body["errors"][0]["field"] == "settings.a.1"  # type: ignore[index]
    body = _problem(admin.get("/api/v1/orgs", params={"q": "a\x00b"}), 422)
    assert body["errors"][0]["field"] == "q"  # type: ignore[index]
