"""Installer routes: the install script and the wheels it installs.

All three are public: they hold no secret (the enrollment key passed to the script is the
secret), and an endpoint being installed has no credentials yet.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, PlainTextResponse

from breeze.core.errors import NotFound, ServiceUnavailable
from breeze.core.state import app_state
from breeze.installer.script import SCRIPT_MEDIA_TYPE, render
from breeze.installer.wheels import WheelBuildError, WheelSet, store_for

router = APIRouter(prefix="/agents", tags=["agent installer"])


async def _wheels(request: Request) -> WheelSet:
    store = store_for(app_state(request).settings.data_dir)
    try:
        return await asyncio.to_thread(store.get)  # builds once, off the event loop
    except WheelBuildError as exc:
        raise ServiceUnavailable(f"the agent wheels cannot be built: {exc}") from exc


@router.get(
    "/install.sh",
    response_class=PlainTextResponse,
    summary="Agent install script (POSIX sh)",
    responses={200: {"content": {SCRIPT_MEDIA_TYPE: {}}}},
)
async def install_script(request: Request) -> PlainTextResponse:
    """`curl -fsSL <server>/api/v1/agents/install.sh | sudo sh -s -- --key KEY`."""
    script = render(app_state(request).settings.server.public_url)
    return PlainTextResponse(
        script,
        media_type=SCRIPT_MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "Content-Disposition": "inline; filename=install.sh"},
    )


@router.get("/wheels/index.json", summary="Wheels of the agent and its dependencies")
async def wheel_index(request: Request) -> dict[str, Any]:
    """File names, sizes and sha256 of every wheel the install script installs."""
    return (await _wheels(request)).index


@router.get(
    "/wheels/{filename}",
    response_class=FileResponse,
    summary="One wheel",
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {}},
)
async def wheel_file(
    request: Request,
    filename: Annotated[str, Path(min_length=5, max_length=255, pattern=r"^[\w.+-]+\.whl$")],
) -> FileResponse:
    path = (await _wheels(request)).path_of(filename)
    if path is None:
        raise NotFound(f"no wheel named {filename}")
    return FileResponse(path, media_type="application/octet-stream", filename=filename)
