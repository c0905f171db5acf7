"""Property-based fuzzing of every documented operation: no input yields a 5xx.

Runs against its own real server (fuzzing writes data) as the platform admin.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.factories import login
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

# Operations that would end the fuzzer's own session.
SKIP_PATHS = (
    "/api/v1/auth/logout",
    "/api/v1/auth/sessions/{session_id}",
    "/api/v1/auth/change-password",
    "/api/v1/auth/reset-password",
)


@pytest.fixture(scope="module")
def fuzz_server(server_factory: object) -> LiveServer:
    return server_factory()  # type: ignore[operator,no-any-return]


@pytest.fixture(scope="module")
def fuzz_admin(fuzz_server: LiveServer) -> Iterator[httpx.Client]:
    c = login(fuzz_server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    yield c
    c.close()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server: LiveServer) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/api/v1/openapi.json")
    return schema.exclude(path=list(SKIP_PATHS))


def test_no_input_causes_a_server_error(
    fuzz_schema: schemathesis.BaseSchema, fuzz_server: LiveServer, fuzz_admin: httpx.Client
) -> None:
    headers = {"Authorization": fuzz_admin.headers["Authorization"]}
    failures: list[str] = []
    operations = 0
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=fuzz_server.url, headers=headers, timeout=30)
            # schemathesis gives each header as a list of values
            content_type = "".join(response.headers.get("content-type", [""]))
            problem_json = content_type.startswith("application/problem+json")
            if response.status_code >= 500 or (response.status_code >= 400 and not problem_json):
                failures.append(
                    f"{case.method} {case.formatted_path} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )

        run()
    assert operations > 20
    assert not failures, "\n".join(failures[:20])
