"""The agent WebSocket (/ws/agents/{agent_id}). Filled in by the real-time feature."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
