"""Server-sent event streams. Filled in by the real-time feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
