"""Parameter schemas (restricted JSON Schema) and the values of one execution."""

from __future__ import annotations

from typing import Any

import pytest

from breeze.core.errors import InvalidInput
from breeze.scripts.parameters import (
    REDACTED,
    is_reserved,
    redact,
    secret_names,
    to_env,
    validate_schema,
    validate_values,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "NAME": {"type": "string", "default": "world", "pattern": "^[a-z]+$"},
        "COUNT": {"type": "integer", "minimum": 1, "default": 1},
        "RATIO": {"type": "number"},
        "FORCE": {"type": "boolean", "default": False},
        "MODE": {"type": "string", "enum": ["fast", "slow"]},
        "TOKEN": {"type": "string", "writeOnly": True},
    },
    "required": ["TOKEN"],
}


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [p.field for p in exc.value.problems]


def test_empty_schema_means_no_parameters() -> None:
    assert validate_schema({}) == {"type": "object", "properties": {}, "required": []}
    assert validate_values(validate_schema({}), {}) == {}


def test_a_valid_schema_is_kept() -> None:
    checked = validate_schema(SCHEMA)
    assert checked["properties"] == SCHEMA["properties"]
    assert secret_names(checked) == ["TOKEN"]


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ([], "parameters"),
        ({"type": "string"}, "parameters.type"),
        (
            {"type": "object", "properties": {"A": {"type": "array"}}},
            "parameters.properties.A.type",
        ),
        ({"type": "object", "properties": {"A": {}}}, "parameters.properties.A.type"),
        ({"type": "object", "properties": {"A": "x"}}, "parameters.properties.A"),
        (
            {"type": "object", "properties": {"A-B": {"type": "string"}}},
            "parameters.properties.A-B",
        ),
        (
            {"type": "object", "properties": {"A" * 65: {"type": "string"}}},
            "parameters.properties." + "A" * 65,
        ),
        (
            {"type": "object", "properties": {"Path": {"type": "string"}}},
            "parameters.properties.Path",
        ),
        (
            {"type": "object", "properties": {"DYLD_X": {"type": "string"}}},
            "parameters.properties.DYLD_X",
        ),
        (
            {"type": "object", "properties": {"PYTHONPATH": {"type": "string"}}},
            "parameters.properties.PYTHONPATH",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}, "A": {"type": "string"}}},
            "parameters.properties.A",
        ),
        (
            {"type": "object", "properties": {"A": {"type": "string", "minLength": -1}}},
            "parameters.properties.A.minLength",
        ),
        (
            {"type": "object", "properties": {"A": {"type": "string", "writeOnly": "yes"}}},
            "parameters.properties.A.writeOnly",
        ),
        (
            {"type": "object", "properties": {"A": {"type": "string", "enum": ["x", 1]}}},
            "parameters.properties.A.enum.1",
        ),
        (
            {"type": "object", "properties": {"A": {"type": "string", "$ref": "#/x"}}},
            "parameters.properties.A.$ref",
        ),
        ({"type": "object", "required": "A"}, "parameters.required"),
        ({"type": "object", "properties": {}, "if": {}}, "parameters.if"),
        (
            {"type": "object", "properties": {"A": {"type": "number", "default": float("nan")}}},
            "parameters.properties.A.default",
        ),
        (
            {"type": "object", "properties": {"A": {"type": "number", "enum": [1, float("inf")]}}},
            "parameters.properties.A.enum.1",
        ),
    ],
)
def test_bad_schemas_name_the_field(schema: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_schema(schema)
    assert fields(exc) == [field]


def test_reserved_names() -> None:
    for name in ("PATH", "path", "LD_PRELOAD", "BREEZE_TOKEN", "LC_ALL", "IFS", "ComSpec"):
        assert is_reserved(name), name
    for name in ("SERVICE_NAME", "PATHS_TO_SCAN", "COUNT", "HOMEPAGE"):
        assert not is_reserved(name), name


def test_values_get_defaults_and_become_environment_strings() -> None:
    schema = validate_schema(SCHEMA)
    values = validate_values(schema, {"TOKEN": "t0k", "RATIO": 0.5, "COUNT": 3, "FORCE": True})
    assert values == {"NAME": "world", "COUNT": 3, "RATIO": 0.5, "FORCE": True, "TOKEN": "t0k"}
    assert to_env(values) == {
        "NAME": "world",
        "COUNT": "3",
        "RATIO": "0.5",
        "FORCE": "true",
        "TOKEN": "t0k",
    }
    assert to_env({"N": 2.0, "B": False}) == {"N": "2", "B": "false"}
    assert redact(values, ["TOKEN"])["TOKEN"] == REDACTED
    # null means "use the default"
    assert validate_values(schema, {"TOKEN": "x", "COUNT": None})["COUNT"] == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({}, "parameters.TOKEN"),
        ({"TOKEN": "x", "COUNT": 0}, "parameters.COUNT"),
        ({"TOKEN": "x", "COUNT": "2"}, "parameters.COUNT"),
        ({"TOKEN": "x", "COUNT": True}, "parameters.COUNT"),
        ({"TOKEN": "x", "COUNT": 1.5}, "parameters.COUNT"),
        ({"TOKEN": "x", "NAME": "UPPER"}, "parameters.NAME"),
        ({"TOKEN": "x", "MODE": "medium"}, "parameters.MODE"),
        ({"TOKEN": "x", "FORCE": "yes"}, "parameters.FORCE"),
        ({"TOKEN": "x", "RATIO": [1]}, "parameters.RATIO"),
        ({"TOKEN": "x", "OTHER": 1}, "parameters.OTHER"),
        ({"TOKEN": "a\x00b"}, "parameters.TOKEN"),
        ({"TOKEN": "x", "NAME": "a" * 40_000}, "parameters.NAME"),
    ],
)
def test_bad_values_name_the_parameter(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_values(validate_schema(SCHEMA), values)
    assert field in fields(exc)


def test_a_bad_secret_is_not_echoed() -> None:
    schema = validate_schema(
        {
            "type": "object",
            "properties": {"PIN": {"type": "string", "writeOnly": True, "pattern": "^[0-9]+$"}},
        }
    )
    with pytest.raises(InvalidInput) as exc:
        validate_values(schema, {"PIN": "hunter2-secret"})
    assert "hunter2-secret" not in str(exc.value.detail)
    assert all("hunter2-secret" not in p.message for p in exc.value.problems)
