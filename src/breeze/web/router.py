"""Every console route: each domain's views.py, plus the shared scope and palette views."""

from __future__ import annotations

from importlib import import_module

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from breeze.web.assets import STATIC_DIR, STATIC_PREFIX

VIEW_MODULES = (
    "breeze.web.views",
    "breeze.auth.views",
    "breeze.dashboard.views",
    "breeze.devices.views",
    "breeze.devices.views_detail",
    "breeze.groups.views",
    "breeze.customfields.views",
    "breeze.scripts.views",
    "breeze.tenancy.views",
    "breeze.agents.views",
    "breeze.apikeys.views",
    "breeze.audit.views",
    "breeze.users.views",
    "breeze.rbac.views",
)


def console_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for name in VIEW_MODULES:
        router.include_router(import_module(name).router)
    return router


def mount_console(app: FastAPI) -> None:
    STATIC_DIR.mkdir(parents=True, exist_ok=True)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(console_router())
