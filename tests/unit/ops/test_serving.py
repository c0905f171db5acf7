"""`breeze server` and `breeze demo` run uvicorn with the same options, from settings."""

from __future__ import annotations

from pathlib import Path

from breeze.ops.serving import WS_PING_TIMEOUT_SECONDS, uvicorn_options
from breeze.settings import Settings


def test_options_follow_the_server_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        server={"port": 8123, "listen_backlog": 512, "ws_ping_interval_seconds": 45},
    )
    options = uvicorn_options(settings)
    assert options["port"] == 8123
    assert options["backlog"] == 512
    assert options["ws_ping_interval"] == 45
    assert options["ws_ping_timeout"] == WS_PING_TIMEOUT_SECONDS
    assert options["access_log"] is False and options["proxy_headers"] is True
    assert options["ws_per_message_deflate"] is False  # small agent frames: not worth it
    on = Settings(data_dir=tmp_path, server={"ws_compression": True})
    assert uvicorn_options(on)["ws_per_message_deflate"] is True


def test_the_default_ping_is_rarer_than_the_agents(tmp_path: Path) -> None:
    from breeze_agent.ws import PING_INTERVAL

    # Agents find a dead server with their own pings; the server's only reclaim sockets.
    assert Settings(data_dir=tmp_path).server.ws_ping_interval_seconds > PING_INTERVAL
