"""HTTP transport to the agent gateway (``/api/v1/agents/*``), over httpx.

Answers are turned into typed outcomes: a parsed body, ``Revoked`` (401/403: the token was
revoked or the device decommissioned), ``RetryLater`` (503/429 with the server's
Retry-After) or ``TransportError`` (network failures, other statuses) that the service
loop retries with backoff.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from breeze_agent import __version__
from breeze_agent.config import check_server_url
from breeze_agent.timing import parse_retry_after
from breeze_protocol import (
    CommandAck,
    CommandResult,
    EnrollRequest,
    EnrollResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    Inventory,
    OutputBatch,
)

USER_AGENT = f"breeze-agent/{__version__}"
# The server numbers each device's configuration; the agent echoes the number it last
# applied, and gets a config_update whenever the server's is different.
CONFIG_VERSION_HEADER = "X-Breeze-Config-Version"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DOWNLOAD_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class TransportError(Exception):
    """A call failed in a way worth retrying later."""


class Revoked(TransportError):
    """The server does not accept this agent any more (401/403)."""


class RetryLater(TransportError):
    """The server is busy; come back after ``seconds`` (503/429 + Retry-After)."""

    def __init__(self, message: str, seconds: float | None) -> None:
        super().__init__(message)
        self.seconds = seconds


class Refused(Exception):
    """The server rejected a request outright (4xx other than 401/403/429): not retried."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]


def verify_setting(ca_cert: str | None) -> ssl.SSLContext | bool:
    """httpx ``verify``: the system trust store, or only the pinned CA bundle."""
    if not ca_cert:
        return True
    path = Path(ca_cert)
    if not path.is_file():
        raise FileNotFoundError(f"CA certificate {ca_cert} does not exist")
    return ssl.create_default_context(cafile=str(path))


class Gateway:
    """Client for one server; use as ``async with Gateway(...) as gw``."""

    def __init__(
        self,
        server_url: str,
        *,
        token: str | None = None,
        ca_cert: str | None = None,
        insecure: bool = False,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.server_url = check_server_url(server_url, insecure=insecure)
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=f"{self.server_url}/api/v1",
            headers=headers,
            verify=verify_setting(ca_cert),
            timeout=timeout,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(
        self, method: str, url: str, body: Any, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            response = await self._client.request(
                method, url, content=body, headers={**_JSON, **(headers or {})}
            )
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        _raise_for_status(method, url, response)
        return response

    async def enroll(self, request: EnrollRequest) -> tuple[EnrollResponse, int | None]:
        """The enrollment answer and the version number of the config it carries."""
        response = await self._call("POST", "/agents/enroll", request.model_dump_json())
        answer = EnrollResponse.model_validate_json(response.content)
        return answer, config_version_of(response)

    async def heartbeat(
        self, agent_id: str, request: HeartbeatRequest, config_version: int | None = None
    ) -> tuple[HeartbeatResponse, int | None]:
        """The answer and the server's config version (echo it once its update is applied)."""
        url = f"/agents/{agent_id}/heartbeat"
        headers = {CONFIG_VERSION_HEADER: str(config_version)} if config_version is not None else {}
        response = await self._call("POST", url, request.model_dump_json(), headers)
        if not response.content:
            return HeartbeatResponse(), config_version_of(response)
        data = response.json()
        # Keys added by a newer server are not ours to refuse: keep the ones we know.
        known = {k: v for k, v in data.items() if k in HeartbeatResponse.model_fields}
        return HeartbeatResponse.model_validate(known), config_version_of(response)

    async def inventory(self, agent_id: str, document: Inventory) -> None:
        # Nulls are the fields' defaults: leaving them out parses to the same document and
        # keeps large software lists further below the server's body-size limit.
        body = document.model_dump_json(exclude_none=True)
        await self._call("PUT", f"/agents/{agent_id}/inventory", body)

    # -- commands --------------------------------------------------------------------------

    async def ack(self, agent_id: str, command_id: str, ack: CommandAck) -> None:
        """The command starts now (204)."""
        url = f"/agents/{agent_id}/commands/{_segment(command_id)}/ack"
        await self._call("POST", url, ack.model_dump_json())

    async def output(self, agent_id: str, command_id: str, batch: OutputBatch) -> None:
        """Output of a running command, when the WebSocket is not connected (204)."""
        url = f"/agents/{agent_id}/commands/{_segment(command_id)}/output"
        await self._call("POST", url, batch.model_dump_json())

    async def result(self, agent_id: str, command_id: str, result: CommandResult) -> None:
        """The final result (204); the server ignores a repeat, so retrying is safe."""
        url = f"/agents/{agent_id}/commands/{_segment(command_id)}/result"
        await self._call("POST", url, result.model_dump_json())

    async def download(self, url_path: str) -> bytes:
        """An authenticated GET of ``url_path`` (under the server URL, e.g. ``/api/v1/...``)."""
        if "://" in url_path or not url_path.startswith("/"):
            # The bearer token must never be sent to another host.
            raise Refused(400, f"download path must start with / on this server: {url_path!r}")
        url = self.server_url + url_path
        try:
            response = await self._client.get(url, timeout=DOWNLOAD_TIMEOUT)
        except httpx.HTTPError as exc:
            raise TransportError(f"GET {url_path}: {type(exc).__name__}: {exc}") from exc
        _raise_for_status("GET", url_path, response)
        return response.content


_JSON = {"Content-Type": "application/json"}


def _segment(value: str) -> str:
    """A command id as one URL path segment (ids come from the wire)."""
    return quote(value, safe="")


def _raise_for_status(method: str, url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status in (401, 403):
        raise Revoked(f"{status}: {_detail(response)}")
    if status in (429, 503):
        seconds = parse_retry_after(response.headers.get("retry-after"))
        raise RetryLater(f"{status}: {_detail(response)}", seconds)
    if status >= 500:
        raise TransportError(f"{method} {url}: {status}: {_detail(response)}")
    if status >= 400:
        raise Refused(status, _detail(response))


def config_version_of(response: httpx.Response) -> int | None:
    raw = response.headers.get(CONFIG_VERSION_HEADER, "").strip()
    return int(raw) if raw.isdigit() else None
