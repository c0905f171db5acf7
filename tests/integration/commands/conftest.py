"""One server with short command cadences for the whole package."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.factories import Tenant, login, make_tenant
from tests.integration.commands.helpers import COMMAND_ENV, Agent, enrolled
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer


@pytest.fixture(scope="package")
def cmd_server(server_factory: object) -> LiveServer:
    return server_factory(**COMMAND_ENV)  # type: ignore[operator,no-any-return]


@pytest.fixture(scope="package")
def cmd_admin(cmd_server: LiveServer) -> Iterator[httpx.Client]:
    c = login(cmd_server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    yield c
    c.close()


@pytest.fixture
def cmd_tenant(cmd_admin: httpx.Client) -> Tenant:
    return make_tenant(cmd_admin)


@pytest.fixture
def agent(cmd_admin: httpx.Client, cmd_server: LiveServer, cmd_tenant: Tenant) -> Agent:
    return enrolled(cmd_admin, cmd_server, cmd_tenant)
