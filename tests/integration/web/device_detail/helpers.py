"""A signed-in console client (cookies + the session's CSRF token) and a device with real
inventory, heartbeat metrics and a command history, for the device page tests."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tests.factories import MEMBER_PASSWORD, Tenant, ok
from tests.integration.agents.helpers import agent_headers, beat_body, metrics
from tests.integration.devices.agents import Agent, enroll, inventory, real_inventory
from tests.support.browser import sign_in_cookies
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

HTML = {"Accept": "text/html"}
HTMX = {**HTML, "HX-Request": "true", "HX-Target": "device-tabs"}
CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')


@dataclass
class Console:
    """An httpx client with a console session, and the session's CSRF token."""

    http: httpx.Client
    csrf: str

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.get(path, **kwargs)  # type: ignore[arg-type]

    def post(
        self, path: str, data: Mapping[str, object] | None = None, *, htmx: bool = False
    ) -> httpx.Response:
        headers = {**HTML, **({"HX-Request": "true"} if htmx else {})}
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.http.post(path, data=body, headers=headers)

    def close(self) -> None:
        self.http.close()


def console(
    server: LiveServer, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> Console:
    http = httpx.Client(base_url=server.url, timeout=30, headers=HTML)
    for cookie in sign_in_cookies(server.url, email, password):
        http.cookies.set(cookie["name"], cookie["value"])
    page = http.get("/profile")
    found = CSRF.search(page.text)
    assert found, f"no CSRF token on the console page ({page.status_code})"
    return Console(http, found.group(1))


def member_console(server: LiveServer, member: httpx.Client) -> Console:
    return console(server, member.email, MEMBER_PASSWORD)  # type: ignore[attr-defined]


@dataclass
class Fleet:
    agent: Agent
    package: str
    interface: str
    mountpoint: str
    cpu_model: str


def device_with_data(server: LiveServer, admin: httpx.Client, tenant: Tenant) -> Fleet:
    """An enrolled device with this machine's real inventory and a few heartbeats."""
    agent = enroll(server, admin, tenant)
    assert agent.send(inventory()) == 1
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for n in range(3):
            body = beat_body(metrics=metrics(cpu_percent=10.0 + n, network_in_bytes=1000 * n))
            ok(
                c.post(
                    f"/api/v1/agents/{agent.agent_id}/heartbeat",
                    json=body,
                    headers=agent_headers(agent.token),
                )
            )
    # Heartbeats are buffered and written within a second: wait for the last one.
    deadline = time.monotonic() + 15
    while ok(admin.get(f"/api/v1/devices/{agent.device_id}")).get("last_user") is None:
        assert time.monotonic() < deadline, "the heartbeats were not stored"
        time.sleep(0.1)
    doc = real_inventory()
    package = ok(admin.get(f"/api/v1/devices/{agent.device_id}/software"))["items"][0]["name"]
    return Fleet(
        agent=agent,
        package=package,
        interface=next(
            (i for i in doc["network"]["interfaces"] if i["addresses"] and not i["is_loopback"]),
            doc["network"]["interfaces"][0],
        )["interface_name"],
        mountpoint=doc["disks"]["filesystems"][0]["mountpoint"],
        cpu_model=doc["hardware"]["cpu_model"] or "",
    )
