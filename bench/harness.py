"""The system under test: a fresh PostgreSQL database, a `breeze server` subprocess on it,
and the console API as the platform administrator (tenants, keys, commands, devices)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy.engine import make_url

from bench.procs import child_setup

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-" + secrets.token_urlsafe(18)
ORG_SIZE = 10_000  # a script batch reaches at most 10,000 devices: one org per 10,000 agents


def pg_admin_url() -> str:
    return (
        os.environ.get("BREEZE_BENCH_DATABASE_URL")
        or os.environ.get("BREEZE_TEST_DATABASE_URL")
        or DEFAULT_PG
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def pg_connect(url: str) -> asyncpg.Connection:
    u = make_url(url)
    conn: asyncpg.Connection = await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username or "postgres",
        password=u.password,
        database=u.database or "postgres",
        timeout=10,
    )
    return conn


async def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at `url`, else why not."""
    try:
        conn = await pg_connect(url)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL not reachable at {url}: {type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def create_database(prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await pg_connect(pg_admin_url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    return name, url


async def drop_database(name: str) -> None:
    conn = await pg_connect(pg_admin_url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def breeze_env(data_dir: Path, db_url: str, port: int, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREEZE_")}
    env.update(
        {
            "BREEZE_ENV": "production",
            "BREEZE_DATA_DIR": str(data_dir),
            "BREEZE_DATABASE_URL": db_url,
            "BREEZE_SECRET_KEY": secrets.token_urlsafe(48),
            "BREEZE_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
            "BREEZE_LOG_LEVEL": "warning",
            # The benchmark may outlast a console token; it signs in once.
            "BREEZE_AUTH__ACCESS_TOKEN_TTL_SECONDS": "86400",
            "BREEZE_AUTH__SESSION_IDLE_TIMEOUT_SECONDS": "86400",
        }
    )
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "breeze.cli", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


@dataclass
class BenchServer:
    data_dir: Path
    db_name: str
    db_url: str
    env_extra: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = breeze_env(self.data_dir, self.db_url, self.port, self.env_extra)
        migrate(env)
        subprocess.run(
            [sys.executable, "-m", "breeze.cli", "admin", "create", "--email", ADMIN_EMAIL,
             "--password", ADMIN_PASSWORD, "--name", "Bench Admin"],
            env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "breeze.cli", "server", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=child_setup,
        )
        wait_ready(self.url + "/ready", self.process, self.log_tail)

    def stop(self) -> None:
        stop_process(self.process)

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(url: str, process: subprocess.Popen[bytes], tail: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{tail()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not become ready at {url}:\n{tail()}")


def stop_process(process: subprocess.Popen[bytes] | None, grace: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class Console:
    """The console API as the platform administrator."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(120.0, connect=10.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    async def login(self) -> None:
        r = await self.http.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = await self.http.request(method, path, **kw)
        if r.status_code != status:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else None

    async def tenant_keys(self, orgs: int) -> tuple[str, list[dict[str, Any]]]:
        """A partner with `orgs` organizations, one enrollment key each."""
        partner = await self.ok("POST", "/api/v1/partners", 201, json={"name": "Bench Partner"})
        out = []
        for i in range(orgs):
            org = await self.ok(
                "POST", "/api/v1/orgs", 201, json={"partner_id": partner["id"], "name": f"Org {i}"}
            )
            await self.ok("POST", f"/api/v1/orgs/{org['id']}/sites", 201, json={"name": "HQ"})
            key = await self.ok(
                "POST",
                "/api/v1/enrollment-keys",
                201,
                json={"name": f"bench {i}", "org_id": org["id"]},
            )
            out.append({"org_id": org["id"], "key": key["key"]})
        return str(partner["id"]), out

    async def noop_script(self, partner_id: str) -> str:
        """A partner-wide script that does nothing (the simulator answers at once)."""
        body = {
            "name": "bench no-op",
            "os_types": ["linux"],
            "language": "sh",
            "content": "true",
            "timeout_seconds": 60,
            "partner_id": partner_id,
        }
        return str((await self.ok("POST", "/api/v1/scripts", 201, json=body))["id"])

    async def close(self) -> None:
        await self.http.aclose()


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)
