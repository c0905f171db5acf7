"""Request and response bodies of the script library, executions and batches."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

OsType = Literal["linux", "windows", "macos"]
Language = Literal["bash", "sh", "python", "powershell", "cmd"]
RUN_AS_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\\@-]{0,63}$"
MAX_CONTENT = 1_000_000
MAX_TARGET_IDS = 10_000

PARAMETERS_HELP = (
    'JSON Schema of the parameters: {"type": "object", "properties": {NAME: {"type": '
    '"string"|"integer"|"number"|"boolean", "default", "enum", "pattern", "minimum", ..., '
    '"writeOnly": true for a secret}}, "required": [NAME, ...]}. Each NAME is passed to the '
    "script as an environment variable."
)

COLLECTOR_HELP = (
    "Makes this a collector script: the key of a custom field of the device's organization "
    "that a completed run (exit code 0) writes. The value is the last non-empty line of "
    "the standard output, trimmed, converted to the field's type (number: 42 or 4.2; "
    "boolean: true/false, yes/no, 1/0; date: YYYY-MM-DD; multiselect: comma-separated "
    "options). A value that does not fit leaves the field unchanged and the run's "
    "result_details.collector_error says why. Checked on save for an organization's script, "
    "at each run for a partner-wide one."
)
FieldKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


Text = Annotated[str, AfterValidator(_no_nul)]
OsTypes = Annotated[list[OsType], AfterValidator(_unique)]
RunAs = Annotated[str, Field(pattern=RUN_AS_PATTERN, description="A local user name")]
Ids = Annotated[list[uuid.UUID], Field(max_length=MAX_TARGET_IDS)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptCreate(Input):
    name: Text = Field(min_length=1, max_length=200)
    description: Text = Field("", max_length=5000)
    category: Text = Field("general", min_length=1, max_length=64)
    os_types: OsTypes = Field(min_length=1, description="Operating systems it runs on")
    language: Language
    content: Text = Field(min_length=1, max_length=MAX_CONTENT)
    parameters: dict[str, Any] = Field(default_factory=dict, description=PARAMETERS_HELP)
    timeout_seconds: int = Field(300, ge=1, le=86_400)
    run_as: RunAs | None = Field(None, description="None: as the agent's own user")
    output_field: FieldKey | None = Field(None, description=COLLECTOR_HELP)
    partner_id: uuid.UUID | None = Field(None, description="Partner-wide script (or org_id)")
    org_id: uuid.UUID | None = Field(None, description="Script of one organization")


class ScriptUpdate(Input):
    name: Text | None = Field(None, min_length=1, max_length=200)
    description: Text | None = Field(None, max_length=5000)
    category: Text | None = Field(None, min_length=1, max_length=64)
    os_types: OsTypes | None = Field(None, min_length=1)
    language: Language | None = None
    content: Text | None = Field(None, min_length=1, max_length=MAX_CONTENT)
    parameters: dict[str, Any] | None = Field(None, description=PARAMETERS_HELP)
    timeout_seconds: int | None = Field(None, ge=1, le=86_400)
    run_as: RunAs | None = Field(None, description="null: as the agent's own user")
    output_field: FieldKey | None = Field(None, description=COLLECTOR_HELP + " null: none.")


class ScriptSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    partner_id: uuid.UUID | None
    org_id: uuid.UUID | None
    name: str
    description: str
    category: str
    os_types: list[str]
    language: str
    parameters: dict[str, Any]
    timeout_seconds: int
    run_as: str | None
    output_field: str | None
    is_system: bool
    version: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ScriptOut(ScriptSummary):
    content: str


class ScriptVersionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    script_id: uuid.UUID
    version: int
    name: str
    changed_by: uuid.UUID | None
    changed_by_name: str | None
    created_at: datetime


class ScriptVersionOut(ScriptVersionSummary):
    description: str
    category: str
    os_types: list[str]
    language: str
    content: str
    parameters: dict[str, Any]
    timeout_seconds: int
    run_as: str | None
    output_field: str | None


class ExecuteRequest(Input):
    device_ids: Ids = Field(default_factory=list)
    site_ids: Ids = Field(default_factory=list, description="Every live device of these sites")
    org_ids: Ids = Field(default_factory=list, description="Every live device of these orgs")
    group_ids: Ids = Field(default_factory=list, description="Every member of these device groups")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values by name")
    timeout_seconds: int | None = Field(None, ge=1, le=86_400, description="Default: script's")
    run_as: RunAs | None = Field(
        None, description="Default: the script's run_as; null: the agent's own user"
    )


class RerunRequest(Input):
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Values of the secret parameters (they are not kept); nothing else",
    )


class Progress(BaseModel):
    pending: int = 0
    sent: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    timeout: int = 0
    cancelled: int = 0
    finished: int = 0
    total: int = 0


class BatchOut(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    org_id: uuid.UUID | None
    script_id: uuid.UUID | None
    script_name: str
    script_version: int
    parameters: dict[str, Any] = Field(description="Secret values shown as ********")
    targets: dict[str, Any]
    total: int
    trigger_type: str
    created_by_type: str
    created_by_id: uuid.UUID | None
    created_by_name: str | None
    created_at: datetime
    status: Literal["running", "completed"] = Field(
        description="completed once every execution has finished (whatever its outcome)"
    )
    progress: Progress


class ExecutionOut(BaseModel):
    id: uuid.UUID
    batch_id: uuid.UUID | None
    script_id: uuid.UUID | None
    script_name: str | None
    script_version: int | None
    device_id: uuid.UUID
    device_name: str | None
    partner_id: uuid.UUID
    org_id: uuid.UUID
    site_id: uuid.UUID
    status: str
    trigger_type: str
    exit_code: int | None
    error: str | None
    created_by_type: str
    created_by_name: str | None
    rerun_of: uuid.UUID | None
    created_at: datetime
    sent_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None
    cancel_requested_at: datetime | None


class ExecutionDetail(ExecutionOut):
    language: str | None
    run_as: str | None
    timeout_seconds: int
    parameters: dict[str, str] = Field(description="As passed; secret values as ********")
    secret_names: list[str]
    stdout: str | None
    stderr: str | None
    stdout_truncated: bool
    stderr_truncated: bool
    result_late: bool
    expires_at: datetime
    deadline_at: datetime | None


class SkippedDevice(BaseModel):
    device_id: uuid.UUID
    device_name: str
    reason: str


class ExecuteOut(BaseModel):
    batch: BatchOut
    executions: list[ExecutionOut]
    skipped: list[SkippedDevice]
