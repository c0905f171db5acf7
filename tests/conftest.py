"""Session fixtures: a mailbox (real SMTP), a database, a real server, clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import Tenant, login, make_tenant
from tests.support.databases import backend, new_database
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, start_server


def pytest_report_header() -> str:
    return f"breeze test database: {backend()}"


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("breeze")


@pytest.fixture(scope="session")
def server_factory(work_dir: Path, mailbox: Mailbox) -> Iterator[object]:
    """Start extra servers with their own settings (and their own database)."""
    started: list[tuple[LiveServer, object]] = []

    def _start(**env: str) -> LiveServer:
        database = new_database(work_dir / "db")
        env.setdefault("BREEZE_SMTP__HOST", "127.0.0.1")
        env.setdefault("BREEZE_SMTP__PORT", str(mailbox.port))
        srv = start_server(work_dir, database, **env)
        started.append((srv, database))
        return srv

    yield _start
    for srv, database in started:
        srv.stop()
        database.drop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def server(server_factory: object) -> LiveServer:
    return server_factory()  # type: ignore[operator,no-any-return]


@pytest.fixture(scope="session")
def base_url(server: LiveServer) -> str:
    return server.url


@pytest.fixture(scope="session")
def admin(base_url: str) -> Iterator[httpx.Client]:
    """The platform administrator, signed in."""
    c = login(base_url, ADMIN_EMAIL, ADMIN_PASSWORD)
    yield c
    c.close()


@pytest.fixture
def anon(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        yield c


@pytest.fixture
def tenant(admin: httpx.Client) -> Tenant:
    return make_tenant(admin)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CI") and backend() != "postgresql" and os.environ.get("BREEZE_REQUIRE_PG"):
        raise pytest.UsageError("BREEZE_REQUIRE_PG is set but BREEZE_TEST_DATABASE_URL is not")
