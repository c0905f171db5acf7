"""A minimal HTTP/1.1 client over asyncio streams, for the simulator's agent traffic.

Why not httpx: thousands of virtual agents and the server share two cores. httpx spends
several times the CPU per request of this client (its pool, its models, its timeouts),
and every millisecond the load generator burns is taken from the server being measured.
The wire format is the real one (the server cannot tell the difference); the control
plane (console API: sign-in, tenants, commands, device list) still uses httpx.

Scope: plain HTTP on loopback, JSON bodies, Content-Length or chunked answers, optional
keep-alive. Every call is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


class WireError(Exception):
    """The peer broke the protocol or the connection failed."""


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _head(method: str, host: str, path: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_reply(reader: asyncio.StreamReader) -> tuple[Reply, bool]:
    """One answer; the flag says whether the server keeps the connection open."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise WireError("connection closed before the answer") from exc
    except asyncio.LimitOverrunError as exc:
        raise WireError("answer header too large") from exc
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise WireError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_BODY_BYTES:
            raise WireError("answer too large")
        body = await reader.readexactly(length) if length else b""
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read(MAX_BODY_BYTES)
        headers["connection"] = "close"
    keep = headers.get("connection", "").lower() != "close"
    return Reply(status, headers, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    for _ in range(1_000_000):  # bounded: a chunked answer has far fewer chunks
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(out) > MAX_BODY_BYTES:
            raise WireError("answer too large")
    raise WireError("too many chunks")


class Connection:
    """One TCP connection, reused while the server keeps it open (closed-loop load)."""

    def __init__(self, host: str, port: int, local_ip: str | None = None) -> None:
        self.host, self.port, self.local_ip = host, port, local_ip
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            local = (self.local_ip, 0) if self.local_ip else None
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, local_addr=local, limit=MAX_HEADER_BYTES
            )
        return self._reader, self._writer

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        time_limit: float = 30.0,
    ) -> Reply:
        try:
            return await asyncio.wait_for(self._request(method, path, body, headers), time_limit)
        except TimeoutError:
            await self.close()
            raise
        except (OSError, WireError, ValueError, asyncio.IncompleteReadError):
            await self.close()
            raise

    async def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str] | None
    ) -> Reply:
        reader, writer = await self._open()
        writer.write(_head(method, self.host, path, headers or {}, len(body)) + body)
        await writer.drain()
        reply, keep = await _read_reply(reader)
        if not keep:
            await self.close()
        return reply

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2.0)


async def request_once(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    local_ip: str | None = None,
    time_limit: float = 30.0,
) -> Reply:
    """One request on a fresh connection, closed afterwards: what an agent that talks
    once a minute does (the server drops idle keep-alive connections after 5 s)."""
    conn = Connection(host, port, local_ip)
    try:
        return await conn.request(method, path, body, headers, time_limit=time_limit)
    finally:
        await conn.close()
