"""Scale-out: two ``breeze server`` processes sharing one PostgreSQL database and one Redis.

A command queued through server A reaches the agent whose WebSocket sits on server B
within a second (Redis pub/sub carries the "agent.commands" hint), signed with the
deployment's one key; and a newer connection of the same agent on A closes the one on B.
PostgreSQL and Redis only: skipped (with the reason printed) on SQLite, which has no
second process to share with.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from websockets.asyncio.client import connect

from breeze_agent.ws import AgentSocket
from breeze_protocol.commands import CommandEnvelope
from breeze_protocol.signing import public_key_text, verify_envelope
from tests.agent.helpers import skip_or_fail
from tests.factories import login, make_tenant
from tests.integration.realtime.conftest import (
    command_frame,
    enroll_agent,
    open_socket,
    queue_command,
    ws_url,
)
from tests.support.databases import backend, new_database
from tests.support.mailbox import Mailbox
from tests.support.server import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, start_server

REDIS_DB = 11  # pub/sub channels are server-wide anyway; the db only separates rate limits


@dataclass
class Cluster:
    a: LiveServer
    b: LiveServer
    public_key: str


def _redis_url() -> str:
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {url}: {exc}")
    return url


@pytest.fixture(scope="module")
def cluster(work_dir: Path, mailbox: Mailbox) -> Iterator[Cluster]:
    if backend() != "postgresql":
        reason = "two servers need a shared PostgreSQL (set BREEZE_TEST_DATABASE_URL)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    redis_url = _redis_url()
    key = Ed25519PrivateKey.generate()
    key_file = work_dir / f"cluster-{uuid.uuid4().hex[:8]}.key"
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    key_file.chmod(0o600)
    env = {
        "BREEZE_REDIS_URL": redis_url,
        "BREEZE_COMMANDS__SIGNING_KEY_FILE": str(key_file),
        "BREEZE_SMTP__HOST": "127.0.0.1",
        "BREEZE_SMTP__PORT": str(mailbox.port),
        "BREEZE_SERVER__RUN_WORKER": "false",  # scale-out: servers only, no embedded worker
    }
    database = new_database(work_dir / "db")
    a = start_server(work_dir, database, **env)  # migrates and creates the admin
    b = LiveServer(data_dir=work_dir / f"srv-b-{uuid.uuid4().hex[:8]}", database=database)
    b.extra_env = dict(env)
    try:
        b.start()
        yield Cluster(a, b, public_key_text(key))
    finally:
        b.stop()
        a.stop()
        database.drop()


@pytest.fixture(scope="module")
def admin_a(cluster: Cluster) -> Iterator[httpx.Client]:
    c = login(cluster.a.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    yield c
    c.close()


async def test_command_queued_on_a_reaches_the_socket_on_b(
    cluster: Cluster, admin_a: httpx.Client
) -> None:
    tenant = await asyncio.to_thread(make_tenant, admin_a)
    agent = await asyncio.to_thread(enroll_agent, admin_a, tenant)
    assert agent.config.get("command_public_key") in (None, cluster.public_key)
    arrived: list[tuple[float, CommandEnvelope]] = []

    async def on_command(envelope: CommandEnvelope) -> None:
        arrived.append((time.monotonic(), envelope))

    sock = AgentSocket(cluster.b.url, agent.agent_id, agent.token, on_command=on_command)
    stopping = asyncio.Event()
    runner = asyncio.create_task(sock.run(stopping))
    try:
        deadline = time.monotonic() + 10
        while not sock.connected:
            assert time.monotonic() < deadline, "the agent socket did not connect to B"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # past registration on B (the connect announcement is sent)
        cmd = await asyncio.to_thread(queue_command, admin_a, agent.device_id)
        queued_at = time.monotonic()
        for _ in range(100):
            if arrived or time.monotonic() - queued_at >= 1.0:
                break
            await asyncio.sleep(0.01)
        assert arrived, "the envelope did not reach the socket on B within 1 second"
        at, envelope = arrived[0]
        assert at - queued_at < 1.0
        assert envelope.id == cmd["id"] and envelope.agent_id == agent.agent_id
        assert verify_envelope(cluster.public_key, envelope)
    finally:
        stopping.set()
        await asyncio.wait_for(runner, 10)


async def test_newer_connection_on_a_closes_the_one_on_b(
    cluster: Cluster, admin_a: httpx.Client
) -> None:
    tenant = await asyncio.to_thread(make_tenant, admin_a)
    agent = await asyncio.to_thread(enroll_agent, admin_a, tenant)
    on_b = await connect(
        ws_url(cluster.b.url, agent.agent_id), additional_headers=agent.headers, open_timeout=10
    )
    await asyncio.sleep(0.2)
    async with await open_socket(cluster.a.url, agent) as on_a:
        try:
            async with asyncio.timeout(5):
                async for _ in on_b:
                    pass
        except Exception:
            pass
        assert (on_b.close_code, on_b.close_reason) == (4000, "replaced by a newer connection")
        # The survivor on A still gets pushes, even for commands queued through B.
        admin_b = await asyncio.to_thread(login, cluster.b.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        with admin_b:
            cmd = await asyncio.to_thread(queue_command, admin_b, agent.device_id)
        frame = command_frame(await asyncio.wait_for(on_a.recv(), 2))
        assert frame["command"]["id"] == cmd["id"]
        assert verify_envelope(cluster.public_key, CommandEnvelope(**frame["command"]))
