"""Request and answer bodies of the command console API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from breeze_protocol.commands import CommandType

SECRET_MASK = "********"
MIN_EXPIRY_SECONDS = 5
MAX_EXPIRY_SECONDS = 30 * 86_400


def redact_payload(payload: dict[str, Any], secret_names: list[str]) -> dict[str, Any]:
    """A copy of `payload` whose env values named in `secret_names` read ``********``."""
    env = payload.get("env")
    if not secret_names or not isinstance(env, dict):
        return payload
    hidden = set(secret_names)
    return {**payload, "env": {k: SECRET_MASK if k in hidden else v for k, v in env.items()}}


class CommandCreate(BaseModel):
    """Body of ``POST /devices/{device_id}/commands``."""

    model_config = ConfigDict(extra="forbid")

    type: CommandType = Field(description="What to do on the device.")
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="Type-specific body: script {language, content, env, timeout_seconds, "
        "run_as}; reboot/shutdown {delay_seconds, message}; collect_inventory {}; "
        "update_agent {version} (default: this server's agent version).",
    )
    timeout_seconds: int | None = Field(
        None, ge=1, le=86_400, description="Longest run before the command times out."
    )
    expires_in_seconds: int | None = Field(
        None,
        ge=MIN_EXPIRY_SECONDS,
        le=MAX_EXPIRY_SECONDS,
        description="How long an offline device may take to start it (default from settings).",
    )
    secret_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=100,
        description="Names in payload.env whose values are secret: never shown, redacted "
        "from output, erased once the command is final.",
    )


class CommandOut(BaseModel):
    """A command as the console shows it; secret env values always read ``********``."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID
    device_id: uuid.UUID
    type: str
    payload: dict[str, Any]
    secret_names: list[str]
    status: str
    trigger_type: str
    created_by_type: str
    created_by_id: uuid.UUID | None
    created_by_name: str | None
    script_id: uuid.UUID | None
    script_version: int | None
    batch_id: uuid.UUID | None
    rerun_of: uuid.UUID | None
    timeout_seconds: int
    expires_at: datetime
    deadline_at: datetime | None
    sent_at: datetime | None
    delivery_count: int
    started_at: datetime | None
    completed_at: datetime | None
    exit_code: int | None
    stdout: str | None
    stderr: str | None
    stdout_truncated: bool
    stderr_truncated: bool
    duration_ms: int | None
    error: str | None
    result_details: dict[str, Any]
    result_late: bool
    cancel_requested_at: datetime | None
    cancel_requested_by: str | None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _redact(self) -> CommandOut:
        # Here rather than at each call site, so no way of building an answer leaks a secret.
        self.payload = redact_payload(self.payload, self.secret_names)
        return self


class OutputChunkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    stream: Literal["stdout", "stderr"]
    data: str
    created_at: datetime


class CommandDetail(CommandOut):
    """One command with the output streamed so far (while it runs; the final result
    carries stdout and stderr instead)."""

    output: list[OutputChunkOut] = Field(default_factory=list)
