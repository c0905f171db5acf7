"""A lean load generator: many keep-alive HTTP/1.1 connections posting JSON bodies.

httpx spends ~10 ms of CPU per request under heavy concurrency, which on a small
test machine would measure the client rather than the server. This writes requests
and reads `Content-Length` answers on plain asyncio streams instead.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Post:
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _encode(host: str, post: Post) -> bytes:
    body = json.dumps(post.body).encode()
    lines = [
        f"POST {post.path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in post.headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read(reader: asyncio.StreamReader) -> Answer:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, body)


async def post_all(base_url: str, posts: list[Post], connections: int = 100) -> list[Answer]:
    """Send every post over `connections` concurrent connections; answers in order."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    answers: list[Answer | None] = [None] * len(posts)
    todo = iter(range(len(posts)))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for index in todo:
                writer.write(_encode(f"{host}:{port}", posts[index]))
                await writer.drain()
                answers[index] = await _read(reader)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(min(connections, len(posts)))))
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]
