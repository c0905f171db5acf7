"""The application factory: mounts each domain, the lifespan and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from breeze import __version__
from breeze.core.handlers import UnexpectedErrors, install_error_handlers
from breeze.core.limits import BodySizeLimit
from breeze.core.state import build_state, close_state
from breeze.core.worker import Worker, all_tasks
from breeze.db.migrate import upgrade_async
from breeze.db.revision import ensure_at_head
from breeze.ops.api import router as ops_router
from breeze.ops.metrics import MetricsMiddleware
from breeze.settings import Settings, get_settings
from breeze.web.router import mount_console

log = logging.getLogger("breeze")


def api_router() -> APIRouter:
    from breeze.agents.api import router as agents
    from breeze.apikeys.api import router as apikeys
    from breeze.audit.api import router as audit
    from breeze.auth.api import router as auth
    from breeze.commands.api import router as commands
    from breeze.customfields.api import router as customfields
    from breeze.devices.api import router as devices
    from breeze.groups.api import router as groups
    from breeze.installer.api import router as installer
    from breeze.live.api import router as live
    from breeze.metrics.api import router as metrics
    from breeze.rbac.api import router as roles
    from breeze.savedviews.api import router as savedviews
    from breeze.scripts.api import router as scripts
    from breeze.software.api import router as software
    from breeze.tenancy.api import router as tenancy
    from breeze.users.api import router as users

    router = APIRouter(prefix="/api/v1")
    for sub in (
        auth,
        tenancy,
        users,
        roles,
        apikeys,
        audit,
        agents,
        devices,
        groups,
        customfields,
        savedviews,
        metrics,
        installer,
        commands,
        scripts,
        software,
        live,
    ):
        router.include_router(sub)
    return router


def agent_gateway_router() -> APIRouter:
    """The HTTP routes agents call (enroll, heartbeat, inventory, command ack, output and
    result). Mounted before everything else: routes are matched in order, and these take
    thousands of requests a minute where the console takes a few."""
    from breeze.agents.gateway import router as agents
    from breeze.commands.gateway import router as commands
    from breeze.devices.gateway import router as devices

    router = APIRouter(prefix="/api/v1")
    for sub in (agents, devices, commands):
        router.include_router(sub)
    return router


def agent_ws_router() -> APIRouter:
    from breeze.agents.ws import router

    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.is_sqlite:
            await upgrade_async(settings)  # embedded mode migrates itself
        state = build_state(settings)
        await ensure_at_head(state.db)
        app.state.breeze = state
        if settings.server.run_worker:
            state.worker = Worker(state, all_tasks())
            state.worker.start()
        log.info("breeze %s ready on %s", __version__, state.db.read_engine.dialect.name)
        try:
            yield
        finally:
            await close_state(state)

    app = FastAPI(
        title="Breeze RMM",
        version=__version__,
        description="Remote Monitoring and Management: console API.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
        telemetry=None
        if settings.server.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    app.include_router(agent_gateway_router())
    app.include_router(ops_router)
    app.include_router(api_router())
    app.include_router(agent_ws_router())
    mount_console(app)
    app.add_middleware(UnexpectedErrors)  # innermost: last resort inside the app
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.server.max_body_bytes,
        max_inventory_bytes=settings.server.max_inventory_bytes,
    )
    app.add_middleware(MetricsMiddleware)
    return app
