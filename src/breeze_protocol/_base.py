"""Shared building blocks of the wire schemas: strict models, units, "unavailable" notes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo


class WireModel(BaseModel):
    """Base of every wire model: snake_case keys, unknown keys refused.

    Unknown keys are an error rather than silently dropped: a change in shape is a change of
    ``PROTOCOL_VERSION``, never a field that quietly disappears on one side.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class Section(WireModel):
    """One inventory section. Fields the agent could not read are ``None`` and explained here."""

    unavailable: dict[str, str] = Field(
        default_factory=dict,
        description="Field name -> why it is null (or incomplete) on this device "
        "(e.g. 'permission denied: /sys/class/dmi/id/product_serial').",
    )


def unit(name: str) -> dict[str, Any]:
    """``json_schema_extra`` declaring a field's unit; shows up as ``"unit"`` in the JSON schema."""
    return {"unit": name}


@dataclass(frozen=True)
class FieldSpec:
    """Declaration of one collected field: its name, unit (if any) and meaning."""

    name: str
    unit: str | None
    description: str
    type: str


def _type_name(info: FieldInfo) -> str:
    ann = info.annotation
    if isinstance(ann, type) and not getattr(ann, "__args__", None):
        return ann.__name__
    return re.sub(r"\b[\w.]+\.(\w+)", r"\1", str(ann))


def field_specs(model: type[BaseModel]) -> dict[str, FieldSpec]:
    """The declared fields of a wire model, with units taken from ``json_schema_extra``."""
    specs: dict[str, FieldSpec] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        raw_unit = extra.get("unit")
        specs[name] = FieldSpec(
            name=name,
            unit=raw_unit if isinstance(raw_unit, str) else None,
            description=info.description or "",
            type=_type_name(info),
        )
    return specs
