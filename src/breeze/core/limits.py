"""Request body size limit: 413 before a large body is read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from breeze.core.handlers import problem


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._reject(scope, receive, send)
                return
        # Without a trustworthy length, read the body (up to the limit) before the
        # app sees it, so an oversized stream is refused rather than half-parsed.
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        buffered = b"".join(chunks)
        replayed = False

        async def _replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": buffered, "more_body": False}
            return await receive()

        await self.app(scope, _replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "Payload too large",
            f"The request body exceeds {self.max_bytes} bytes",
            "payload_too_large",
        )
        await response(scope, receive, send)
