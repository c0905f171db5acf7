"""Authenticating an agent on the gateway: `Authorization: Bearer <agent token>`.

The token is stored hashed on the device row. A decommissioned device has no
token any more, so its agent gets 401 and stops.

Lookups are batched: concurrent requests of one process share one
`WHERE agent_token_hash IN (...)` query (one in flight at a time; requests that
arrive meanwhile go in the next). A storm of heartbeats (every agent reconnecting
after an outage) therefore costs a few queries, not one pooled connection per beat.
Nothing is cached: every request sees the database as of a query that started
after it arrived, so a replaced or revoked token is refused at once. The same query says
whether the device has commands to hand out (`has_commands`), so a heartbeat that finds
none (nearly all of them) costs no second query.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Executable, String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from breeze.commands.delivery import open_work_exists
from breeze.core.errors import Unauthorized
from breeze.core.principal import Actor
from breeze.core.security import token_hash
from breeze.core.state import app_state
from breeze.db.base import utcnow
from breeze.db.engine import Database
from breeze.devices.models import Device

AGENT_TOKEN_PREFIX = "brz_agt_"
LOOKUP_CHUNK = 500
_bearer = HTTPBearer(auto_error=False, description="Agent token from enrollment")


@dataclass(frozen=True)
class AgentIdentity:
    device_id: uuid.UUID
    agent_id: str
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID
    heartbeat_interval_seconds: int
    config_version: int
    has_commands: bool
    actor: Actor


@dataclass(frozen=True)
class TokenOwner:
    """The live device a token belongs to (what one lookup row says)."""

    device_id: uuid.UUID
    agent_id: str
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID
    heartbeat_interval_seconds: int
    config_version: int
    has_commands: bool  # a due command or a cancel to repeat, when the lookup ran


class TokenLookup:
    """Finds the devices of token hashes, batching concurrent lookups into one query."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiting: dict[str, list[asyncio.Future[TokenOwner | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def find(self, hashed: str) -> TokenOwner | None:
        future: asyncio.Future[TokenOwner | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(hashed, []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            await asyncio.sleep(0)  # let requests of the same loop turn join this round
            batch, self._waiting = self._waiting, {}
            try:
                found = await self._query(list(batch))
            except Exception as exc:
                for futures in batch.values():
                    for f in futures:
                        if not f.done():
                            f.set_exception(exc)
                continue
            for hashed, futures in batch.items():
                for f in futures:
                    if not f.done():
                        f.set_result(found.get(hashed))

    async def _query(self, hashes: Sequence[str]) -> dict[str, TokenOwner]:
        found: dict[str, TokenOwner] = {}
        now = utcnow()
        async with self._db.read() as session:
            conn = await session.connection()
            statement = _lookup_statement(conn.dialect.name == "postgresql")
            for start in range(0, len(hashes), LOOKUP_CHUNK):
                chunk = list(hashes[start : start + LOOKUP_CHUNK])
                rows = await conn.execute(statement, {"hashes": chunk, "now": now})
                for row in rows:
                    found[str(row[0])] = TokenOwner(*row[1:])
        return found


@functools.cache
def _lookup_statement(postgresql: bool) -> Executable:
    """Built once: the lookup runs for nearly every agent request, and building the
    statement and its cache key each time cost more CPU than PostgreSQL spent on it.
    Run on the Core connection (columns only, no ORM state to set up)."""
    hashes = (
        Device.agent_token_hash == any_(bindparam("hashes", type_=ARRAY(String(64))))
        if postgresql  # one SQL text whatever the batch size (see breeze.db.sql.one_of)
        else Device.agent_token_hash.in_(bindparam("hashes", expanding=True))
    )
    return select(
        Device.agent_token_hash,
        Device.id,
        Device.agent_id,
        Device.partner_id,
        Device.org_id,
        Device.site_id,
        Device.heartbeat_interval_seconds,
        Device.config_version,
        open_work_exists(Device.id, bindparam("now")),
    ).where(hashes, Device.decommissioned_at.is_(None))


def token_lookup(app: Any) -> TokenLookup:
    lookup: TokenLookup | None = getattr(app.state, "agent_token_lookup", None)
    if lookup is None:
        lookup = TokenLookup(app.state.breeze.db)
        app.state.agent_token_lookup = lookup
    return lookup


async def current_agent(
    request: Request,
    agent_id: Annotated[str, Path(min_length=1, max_length=64)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> AgentIdentity:
    if credentials is None or not credentials.credentials.startswith(AGENT_TOKEN_PREFIX):
        raise Unauthorized("An agent token is required")
    app_state(request)  # the app is running
    owner = await token_lookup(request.app).find(token_hash(credentials.credentials))
    if owner is None or owner.agent_id != agent_id:
        raise Unauthorized("The agent token is not valid; the device may have been removed")
    ip = request.client.host if request.client else None
    return AgentIdentity(
        device_id=owner.device_id,
        agent_id=owner.agent_id,
        partner_id=owner.partner_id,
        org_id=owner.org_id,
        site_id=owner.site_id,
        heartbeat_interval_seconds=owner.heartbeat_interval_seconds,
        config_version=owner.config_version,
        has_commands=owner.has_commands,
        actor=Actor(
            type="agent",
            id=owner.device_id,
            email=None,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        ),
    )


CurrentAgent = Annotated[AgentIdentity, Depends(current_agent)]
