"""Script library routes. Filled in by the scripts feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
