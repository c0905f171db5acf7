"""Command routes (console and agent gateway). Filled in by the commands feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
