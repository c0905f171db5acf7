"""Script parameters: a restricted JSON Schema, and the values one execution passes.

A script declares its parameters as a flat JSON Schema object whose property names become
environment variables of the script's process, so the names must be valid, must not clash
with variables the interpreter or the agent relies on, and the values must be scalars.
A property marked ``"writeOnly": true`` is a secret: it is redacted everywhere it is shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]

from breeze.core.errors import FieldProblem, InvalidInput

REDACTED = "********"
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_PARAMETERS = 50
MAX_VALUE_LENGTH = 32_768  # per value: the whole environment of a process is limited
SCALAR_TYPES = ("string", "integer", "number", "boolean")

# Names the shell, the dynamic linker, interpreters or the agent read from the
# environment: a parameter by one of these names could change what really runs.
RESERVED = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "PWD",
        "OLDPWD",
        "IFS",
        "ENV",
        "BASH_ENV",
        "CDPATH",
        "GLOBIGNORE",
        "SHELLOPTS",
        "BASHOPTS",
        "PROMPT_COMMAND",
        "PS1",
        "PS2",
        "PS3",
        "PS4",
        "TERM",
        "TMPDIR",
        "TEMP",
        "TMP",
        "LANG",
        "LANGUAGE",
        "TZ",
        "MAIL",
        "HOSTNAME",
        "UID",
        "EUID",
        "PPID",
        "RANDOM",
        "SECONDS",
        "LINENO",
        "OPTIND",
        "OPTARG",
        "PERL5LIB",
        "PERL5OPT",
        "RUBYOPT",
        "RUBYLIB",
        "NODE_OPTIONS",
        "NODE_PATH",
        "SYSTEMROOT",
        "SYSTEMDRIVE",
        "WINDIR",
        "COMSPEC",
        "PATHEXT",
        "PSMODULEPATH",
        "USERPROFILE",
        "APPDATA",
        "LOCALAPPDATA",
        "PROGRAMDATA",
        "PROGRAMFILES",
        "USERNAME",
        "USERDOMAIN",
        "COMPUTERNAME",
    }
)
RESERVED_PREFIXES = (
    "LD_",
    "DYLD_",
    "BREEZE_",
    "LC_",
    "PYTHON",
    "BASH_FUNC_",
    "BASH",
    "SUDO_",
    "SSH_",
    "XDG_",
    "DBUS_",
    "GCONV_",
    "MALLOC_",
)

# Keywords a parameter may use (the JSON Schema meaning applies to each).
PROPERTY_KEYWORDS = frozenset(
    {
        "type",
        "title",
        "description",
        "default",
        "enum",
        "const",
        "examples",
        "pattern",
        "format",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "writeOnly",
    }
)
TOP_KEYWORDS = frozenset(
    {"$schema", "type", "title", "description", "properties", "required", "additionalProperties"}
)


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", field=field)


def is_reserved(name: str) -> bool:
    # Windows looks variables up case-insensitively, so compare in upper case.
    upper = name.upper()
    return upper in RESERVED or upper.startswith(RESERVED_PREFIXES)


def _check_property(name: str, prop: Any, where: str) -> None:
    field = f"{where}.properties.{name}"
    if not NAME_PATTERN.match(name):
        raise _invalid(
            field,
            "a parameter name becomes an environment variable: letters, digits and "
            "underscores, not starting with a digit, at most 64 characters",
        )
    if is_reserved(name):
        raise _invalid(field, f"'{name}' is reserved (it would change how the script runs)")
    if not isinstance(prop, dict):
        raise _invalid(field, "must be an object")
    unknown = sorted(set(prop) - PROPERTY_KEYWORDS)
    if unknown:
        raise _invalid(f"{field}.{unknown[0]}", "keyword not supported for a parameter")
    kind = prop.get("type")
    if kind not in SCALAR_TYPES:
        raise _invalid(f"{field}.type", f"must be one of: {', '.join(SCALAR_TYPES)}")
    if "writeOnly" in prop and not isinstance(prop["writeOnly"], bool):
        raise _invalid(f"{field}.writeOnly", "must be true or false")
    if "pattern" in prop:
        try:
            re.compile(prop["pattern"])
        except (re.error, TypeError) as exc:
            raise _invalid(f"{field}.pattern", f"not a valid regular expression: {exc}") from None
    for keyword in ("default", "const"):
        if keyword in prop:
            _check_value(prop, prop[keyword], f"{field}.{keyword}")
    for i, value in enumerate(prop.get("enum") or []):
        _check_value(prop, value, f"{field}.enum.{i}")


def _check_value(prop: dict[str, Any], value: Any, field: str) -> None:
    """A default/const/enum value must itself be valid for the parameter."""
    rules = {k: v for k, v in prop.items() if k not in {"default", "enum", "const", "examples"}}
    error = next(iter(Draft202012Validator(rules).iter_errors(value)), None)
    if error is not None:
        raise _invalid(field, error.message)


def _non_finite(value: Any, path: str) -> str | None:
    """Where a NaN or infinity hides in a JSON value (JSON cannot store them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        found = _non_finite(item, f"{path}.{key}")
        if found:
            return found
    return None


def validate_schema(schema: Any, where: str = "parameters") -> dict[str, Any]:
    """The parameters schema, checked and normalised (``{}`` means no parameters)."""
    if not isinstance(schema, dict):
        raise _invalid(where, "must be a JSON Schema object")
    bad_number = _non_finite(schema, where)
    if bad_number:
        raise _invalid(bad_number, "must be a finite number")
    if not schema:
        return {"type": "object", "properties": {}, "required": []}
    unknown = sorted(set(schema) - TOP_KEYWORDS)
    if unknown:
        raise _invalid(f"{where}.{unknown[0]}", "keyword not supported here")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path = ".".join(str(p) for p in exc.path)
        raise _invalid(f"{where}.{path}" if path else where, exc.message) from None
    if schema.get("type") != "object":
        raise _invalid(f"{where}.type", "must be 'object'")
    if schema.get("additionalProperties", False) is not False:
        raise _invalid(f"{where}.additionalProperties", "only false is supported")
    properties = schema.get("properties", {})
    if len(properties) > MAX_PARAMETERS:
        raise _invalid(f"{where}.properties", f"at most {MAX_PARAMETERS} parameters")
    seen: dict[str, str] = {}
    for name, prop in properties.items():
        _check_property(name, prop, where)
        if name.upper() in seen:
            raise _invalid(
                f"{where}.properties.{name}", f"clashes with '{seen[name.upper()]}' on Windows"
            )
        seen[name.upper()] = name
    required = schema.get("required", [])
    for i, name in enumerate(required):
        if name not in properties:
            raise _invalid(f"{where}.required.{i}", f"'{name}' is not a declared parameter")
    return {**schema, "type": "object", "properties": properties, "required": list(required)}


def secret_names(schema: Mapping[str, Any]) -> list[str]:
    props: dict[str, Any] = schema.get("properties") or {}
    return sorted(n for n, p in props.items() if isinstance(p, dict) and p.get("writeOnly"))


def validate_values(schema: Mapping[str, Any], values: Any) -> dict[str, Any]:
    """The values one execution passes, with defaults applied; 422 naming parameters.NAME."""
    if not isinstance(values, dict):
        raise _invalid("parameters", "must be an object of parameter values")
    props: dict[str, Any] = schema.get("properties") or {}
    problems: list[FieldProblem] = []
    for name in values:
        if name not in props:
            problems.append(FieldProblem(f"parameters.{name}", "not a parameter of this script"))
    resolved: dict[str, Any] = {}
    for name, prop in props.items():
        if name in values and values[name] is not None:
            resolved[name] = values[name]
        elif "default" in prop:
            resolved[name] = prop["default"]
    for name in schema.get("required") or []:
        if name not in resolved:
            problems.append(FieldProblem(f"parameters.{name}", "required"))
    checker = Draft202012Validator({"type": "object", "properties": props})
    for error in checker.iter_errors(resolved):
        path = list(error.absolute_path)
        name = str(path[0]) if path else ""
        message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        problems.append(FieldProblem(f"parameters.{name}".rstrip("."), message))
    for name, value in resolved.items():
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(FieldProblem(f"parameters.{name}", "must be a finite number"))
        if isinstance(value, str) and "\x00" in value:
            problems.append(FieldProblem(f"parameters.{name}", "must not contain NUL"))
        if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            problems.append(
                FieldProblem(f"parameters.{name}", f"at most {MAX_VALUE_LENGTH} characters")
            )
    if problems:
        # Never echo a secret value back: jsonschema messages quote the instance.
        secrets = set(secret_names(schema))
        shown = [
            FieldProblem(p.field, "invalid value")
            if p.field.removeprefix("parameters.") in secrets and p.message != "required"
            else p
            for p in problems
        ]
        detail = "; ".join(f"{p.field}: {p.message}" for p in shown[:5])
        raise InvalidInput(detail, problems=shown)
    return resolved


def to_env(values: Mapping[str, Any]) -> dict[str, str]:
    """Values as environment strings (booleans as true/false, numbers as written)."""
    env: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            env[name] = str(int(value))
        else:
            env[name] = str(value)
    return env


def redact(values: Mapping[str, Any], secrets: Iterable[str]) -> dict[str, Any]:
    hidden = set(secrets)
    return {k: (REDACTED if k in hidden else v) for k, v in values.items()}
