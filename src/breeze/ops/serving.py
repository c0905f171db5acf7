"""How the HTTP server is run: the uvicorn options `breeze server` and `breeze demo`
share, so the demo behaves like production (backlog, WebSocket pings)."""

from __future__ import annotations

from typing import Any

from breeze.settings import Settings

WS_PING_TIMEOUT_SECONDS = 30.0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    server = settings.server
    return {
        "host": server.host,
        "port": server.port,
        "log_level": settings.log_level,
        "proxy_headers": True,
        "forwarded_allow_ips": server.trusted_proxies,
        "access_log": False,
        "backlog": server.listen_backlog,
        "ws_ping_interval": server.ws_ping_interval_seconds,
        "ws_ping_timeout": WS_PING_TIMEOUT_SECONDS,
        "ws_per_message_deflate": server.ws_compression,
    }
