"""Request and response bodies of custom field definitions and device values."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_OPTIONS = 200
MAX_OPTION_LENGTH = 100
FieldType = Literal["text", "number", "boolean", "date", "select", "multiselect"]

VALUE_HELP = (
    "text: a string (at most 2000 characters); number: a finite number; boolean: true or "
    "false; date: YYYY-MM-DD; select: one of options; multiselect: a list of options."
)


def _option(value: str) -> str:
    option = value.strip()
    if not option:
        raise ValueError("an option cannot be empty")
    if "," in option:
        raise ValueError("an option cannot contain a comma (commas separate filter values)")
    if not option.isprintable():
        raise ValueError("an option cannot contain control characters")
    return option


def _unique(options: list[str]) -> list[str]:
    if len({o.lower() for o in options}) != len(options):
        raise ValueError("options must not repeat (case-insensitively)")
    return options


Option = Annotated[str, Field(max_length=MAX_OPTION_LENGTH), AfterValidator(_option)]
Options = Annotated[list[Option], Field(max_length=MAX_OPTIONS), AfterValidator(_unique)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomFieldCreate(Input):
    org_id: uuid.UUID
    key: str = Field(
        pattern=KEY_PATTERN,
        description="Lower-case letters, digits and _; starts with a letter. Immutable.",
    )
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    type: FieldType = Field(description="Immutable.")
    options: Options = Field(
        default_factory=list, description="The allowed values of a select or multiselect"
    )
    required: bool = Field(
        False, description="A required field needs a default_value and cannot be cleared"
    )
    default_value: Any = Field(None, description="A valid value of the type. " + VALUE_HELP)


class CustomFieldUpdate(Input):
    """PATCH body: only the fields present change; key and type are immutable."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    options: Options | None = None
    required: bool | None = None
    default_value: Any = None


class CustomFieldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    partner_id: uuid.UUID
    org_id: uuid.UUID
    key: str
    name: str
    description: str
    type: str
    options: list[str]
    required: bool
    default_value: Any
    created_at: datetime
    updated_at: datetime


class DeviceFieldValue(BaseModel):
    """One definition of the device's organization with the device's value."""

    key: str
    name: str
    type: str
    options: list[str]
    required: bool
    value: Any = Field(description="The device's own value, else the default (may be null)")
    is_default: bool = Field(description="True when the device has no value of its own")
