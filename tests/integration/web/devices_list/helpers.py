"""Console clients for the device list and dashboard tests: a signed-in httpx client
(any user) with the session's CSRF token, and devices enrolled through the agent API."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import update

from breeze.devices.models import Device
from tests.factories import MEMBER_PASSWORD
from tests.integration.agents.helpers import beat, run
from tests.integration.scripts.helpers import FakeAgent
from tests.support.browser import sign_in_cookies
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

HTML = {"Accept": "text/html"}
TABLE = {**HTML, "HX-Request": "true", "HX-Target": "device-table"}
CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')


class Console(httpx.Client):
    """A console session; `csrf` is filled from the first page it loads."""

    csrf: str = ""

    def page(self, path: str, **params: Any) -> httpx.Response:
        r = self.get(path, params=params)
        if not self.csrf and (m := CSRF.search(r.text)):
            self.csrf = m.group(1)
        return r

    def post_form(self, path: str, data: dict[str, Any], **headers: str) -> httpx.Response:
        if not self.csrf:
            self.page("/")
        return self.post(path, data={**data, "csrf_token": self.csrf}, headers={**HTML, **headers})


def console(
    server: LiveServer, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> Console:
    c = Console(base_url=server.url, timeout=30, headers=HTML)
    for cookie in sign_in_cookies(server.url, email, password):
        c.cookies.set(cookie["name"], cookie["value"])
    return c


def member_console(server: LiveServer, member: httpx.Client) -> Console:
    return console(server, member.email, MEMBER_PASSWORD)  # type: ignore[attr-defined]


def set_device(server: LiveServer, device_id: str, **values: Any) -> None:
    """Put a device in a state no API sets directly (offline: the sweep's job)."""
    stmt = update(Device).where(Device.id == uuid.UUID(device_id)).values(**values)
    # In a thread of its own: Playwright's sync API keeps an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run, server, stmt).result()


def row_ids(html: str) -> list[str]:
    """The device ids of the table's rows, in order."""
    return re.findall(r'data-device-id="([0-9a-f-]{36})"', html)


def agents_ids(*agents: FakeAgent) -> set[str]:
    return {a.device_id for a in agents}


@contextmanager
def keep_alive(base_url: str, *agents: dict[str, Any], every: float = 1.0) -> Iterator[None]:
    """Heartbeat these enrolled agents (enroll answers) until the block ends, so the
    server's presence sweep keeps them online while the others go offline."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for agent in agents:
                beat(base_url, agent)
            stop.wait(every)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
