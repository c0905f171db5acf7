"""Prometheus instruments and the middleware that feeds them."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "breeze_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "breeze_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"]
)


def route_template(scope: Scope) -> str:
    """The matched route's full template, e.g. /api/v1/orgs/{org_id}.

    Nested routers leave only the innermost (relative) template in the scope; the
    prefix is the same number of leading segments of the real path.
    """
    relative = getattr(scope.get("route"), "path", None)
    if not relative:
        return "unmatched"
    path_parts = scope["path"].rstrip("/").split("/")
    tail = relative.rstrip("/").split("/")[1:]
    prefix = "/".join(path_parts[: len(path_parts) - len(tail)]) if tail else scope["path"]
    return prefix.rstrip("/") + "/" + "/".join(tail) if tail else relative


class MetricsMiddleware:
    """Counts requests by route template (not raw path, to bound label cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            template = route_template(scope)
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(time.perf_counter() - start)
