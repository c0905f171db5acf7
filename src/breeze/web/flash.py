"""One-shot messages carried across a redirect in a short-lived cookie."""

from __future__ import annotations

import base64
import json
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

FLASH_COOKIE = "breeze_flash"
Level = Literal["success", "info", "warning", "danger"]


def flash(response: Response, message: str, level: Level = "success") -> None:
    """Show `message` on the next page this browser renders."""
    raw = json.dumps({"m": message[:500], "l": level}).encode()
    response.set_cookie(
        FLASH_COOKIE,
        base64.urlsafe_b64encode(raw).decode(),
        max_age=60,
        httponly=True,
        samesite="lax",
        path="/",
    )


def take_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        message, level = str(data["m"]), str(data["l"])
    except (ValueError, KeyError, TypeError):
        return None
    if level not in {"success", "info", "warning", "danger"}:
        level = "info"
    return message, level
