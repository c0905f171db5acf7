"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import httpx

from breeze import __version__


def test_health_and_ready(anon: httpx.Client) -> None:
    health = anon.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok", "version": __version__}
    ready = anon.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_metrics_count_requests_by_route_template(anon: httpx.Client, admin: httpx.Client) -> None:
    admin.get("/api/v1/orgs")
    text = anon.get("/metrics").text
    assert "breeze_http_requests_total" in text
    assert 'route="/api/v1/orgs"' in text
    assert "breeze_http_request_duration_seconds_bucket" in text


def test_openapi_document_and_docs_page(anon: httpx.Client) -> None:
    spec = anon.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "Breeze RMM"
    for path in (
        "/api/v1/auth/login",
        "/api/v1/partners",
        "/api/v1/orgs/{org_id}/sites",
        "/api/v1/sites/{site_id}",
    ):
        assert path in spec["paths"], path
    schemes = spec["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schemes)
    docs = anon.get("/api/v1/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_cli_version(server: object) -> None:
    done = server.cli("--version")  # type: ignore[attr-defined]
    assert done.stdout.strip() == f"breeze {__version__}"
