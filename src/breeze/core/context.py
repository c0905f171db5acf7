"""The per-request context handed to routes: principal, database, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from breeze.core.principal import Actor, Principal
from breeze.core.state import AppState
from breeze.db.engine import UnitOfWork
from breeze.settings import Settings


@dataclass
class Ctx:
    principal: Principal
    state: AppState

    @property
    def actor(self) -> Actor:
        return self.principal.actor

    @property
    def settings(self) -> Settings:
        return self.state.settings

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.state.db.read() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[UnitOfWork]:
        async with self.state.db.write() as uow:
            yield uow
