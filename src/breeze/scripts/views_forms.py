"""What the script pages' forms submit, turned into the API's own request models.

The script form posts its parameter schema as JSON text (written by the schema editor
island, or typed in its raw view); the run dialog posts one field per parameter
(``param.NAME``), converted here to the types the script's schema declares so that the
execute action validates exactly what the JSON API would receive.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from breeze.core.errors import FieldProblem, InvalidInput
from breeze.scripts.models import Script
from breeze.web.forms import form_values

LANGUAGES = (
    ("bash", "Bash"),
    ("sh", "POSIX sh"),
    ("python", "Python"),
    ("powershell", "PowerShell"),
    ("cmd", "Windows cmd"),
)
OS_TYPES = (("linux", "Linux"), ("windows", "Windows"), ("macos", "macOS"))
SCRIPT_FIELDS = (
    "name",
    "description",
    "category",
    "language",
    "os_types",
    "content",
    "parameters",
    "timeout_seconds",
    "run_as",
    "output_field",
    "owner",
)
PARAM_PREFIX = "param."


def _text(form: FormData, name: str) -> str:
    raw = form.get(name)
    return raw if isinstance(raw, str) else ""


def normalise_newlines(text: str) -> str:
    """Browsers submit a textarea with CRLF line ends; a shell script must not get them."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def schema_text(schema: Mapping[str, Any] | None) -> str:
    """A parameters schema as the form shows it ('' for none)."""
    if not schema or not (schema.get("properties") or {}):
        return ""
    return json.dumps(schema, indent=2)


def parse_schema(text: str) -> dict[str, Any]:
    """The schema field's JSON ({} when empty); bad JSON names the field."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"parameters: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            field="parameters",
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput("parameters: must be a JSON object", field="parameters")
    return value


@dataclass
class ScriptForm:
    """The script form as submitted (or as a script shows it), for re-rendering."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, script: Script) -> ScriptForm:
        return cls(
            {
                "name": script.name,
                "description": script.description,
                "category": script.category,
                "language": script.language,
                "os_types": list(script.os_types),
                "content": script.content,
                "parameters": schema_text(script.parameters),
                "timeout_seconds": script.timeout_seconds,
                "run_as": script.run_as or "",
                "output_field": script.output_field or "",
                "owner": f"org:{script.org_id}"
                if script.org_id
                else f"partner:{script.partner_id}",
            }
        )

    @classmethod
    def submitted(cls, form: FormData) -> ScriptForm:
        values = form_values(form, lists=("os_types",))
        values["content"] = normalise_newlines(_text(form, "content"))
        values["parameters"] = normalise_newlines(_text(form, "parameters"))
        return cls({k: values.get(k) for k in SCRIPT_FIELDS})

    def data(self, *, with_owner: bool) -> dict[str, Any]:
        """The request body the JSON API would receive for this form."""
        v = self.values
        data: dict[str, Any] = {
            "name": v.get("name") or "",
            "description": v.get("description") or "",
            "category": v.get("category") or "general",
            "language": v.get("language"),
            "os_types": v.get("os_types") or [],
            "content": v.get("content") or "",
            "parameters": parse_schema(v.get("parameters") or ""),
            "timeout_seconds": v.get("timeout_seconds") or 300,
            "run_as": v.get("run_as"),
            "output_field": v.get("output_field"),
        }
        if with_owner:
            kind, _, raw = str(v.get("owner") or "").partition(":")
            try:
                owner = uuid.UUID(raw)
            except ValueError:
                raise InvalidInput("Choose who the script belongs to", field="owner") from None
            data["org_id" if kind == "org" else "partner_id"] = owner
        return data


def group_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """Errors by form field: 'os_types.0' shows at os_types, 'parameters.properties.X.type'
    at the schema editor (the full path stays too, for the editor to mark the row)."""
    grouped: dict[str, str] = {}
    for key, message in errors.items():
        head = key.split(".", 1)[0]
        target = "owner" if head in {"org_id", "partner_id"} else head
        if target not in SCRIPT_FIELDS:
            target = key
        grouped.setdefault(target, message)
        if key != target:
            grouped.setdefault(key, message)
    return grouped


# -- the run dialog's parameter fields -----------------------------------------------------


@dataclass(frozen=True)
class ParamField:
    """One parameter of a script as the run dialog shows it."""

    name: str
    kind: str
    label: str
    description: str
    required: bool
    secret: bool
    default: Any
    choices: list[Any]

    @property
    def input_name(self) -> str:
        return PARAM_PREFIX + self.name


def param_fields(schema: Mapping[str, Any]) -> list[ParamField]:
    props: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    return [
        ParamField(
            name=name,
            kind=str(prop.get("type", "string")),
            label=str(prop.get("title") or name),
            description=str(prop.get("description") or ""),
            required=name in required,
            secret=bool(prop.get("writeOnly")),
            default=prop.get("default"),
            choices=list(prop.get("enum") or []),
        )
        for name, prop in props.items()
        if isinstance(prop, dict)
    ]


def _convert(param: ParamField, raw: str) -> Any:
    text = raw.strip() if not param.secret else raw
    if param.kind == "boolean":
        if text.lower() in {"true", "yes", "1", "on"}:
            return True
        if text.lower() in {"false", "no", "0", "off"}:
            return False
        raise ValueError("choose yes or no")
    if param.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if param.kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return int(number) if number.is_integer() and "." not in text else number
    return raw


def param_values(form: FormData, fields: Iterable[ParamField]) -> dict[str, Any]:
    """The submitted parameter values by name, typed; an empty field is left out (so the
    default applies, or 'required' is reported by the action)."""
    values: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for param in fields:
        raw = _text(form, param.input_name)
        if raw.strip() == "":
            continue
        try:
            values[param.name] = _convert(param, raw)
        except ValueError as exc:
            problems.append(FieldProblem(f"parameters.{param.name}", str(exc)))
    if problems:
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise InvalidInput(detail, problems=problems)
    return values


def id_list(raw: str | None, name: str) -> list[uuid.UUID]:
    """`a,b` from a link's query string: the ids in order, once each."""
    found: dict[uuid.UUID, None] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        try:
            found[uuid.UUID(part.strip())] = None
        except ValueError:
            raise InvalidInput(
                f"The address has an invalid {name} ({part.strip()[:40]!r})", field=name
            ) from None
    return list(found)
