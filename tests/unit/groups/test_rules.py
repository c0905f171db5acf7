"""The rule validator (errors name the path), the Python evaluator and version keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breeze.core.errors import InvalidInput
from breeze.devices.versions import version_key
from breeze.groups.fields import GB, MAX_DEPTH, MAX_NODES, referenced_groups
from breeze.groups.predefined import PREDEFINED
from breeze.groups.rules import DeviceFacts, rule_matches, validate_rules

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def field_of(rules: Any, **kw: Any) -> str:
    with pytest.raises(InvalidInput) as err:
        validate_rules(rules, **kw)
    return err.value.problems[0].field


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([], "rules"),
        ({}, "rules"),
        ({"all": {}}, "rules.all"),
        ({"all": [], "any": []}, "rules.any"),
        ({"all": [{"field": "nope", "op": "eq", "value": 1}]}, "rules.all.0.field"),
        ({"any": [{"field": "hostname", "op": "gt", "value": "a"}]}, "rules.any.0.op"),
        ({"any": [{"field": "hostname", "op": "eq", "value": 3}]}, "rules.any.0.value"),
        ({"any": [{"field": "hostname", "op": "eq"}]}, "rules.any.0.value"),
        ({"any": [{"field": "hostname", "op": "in", "value": []}]}, "rules.any.0.value"),
        ({"any": [{"field": "hostname", "op": "in", "value": ["a", 1]}]}, "rules.any.0.value.1"),
        ({"not": {"field": "cpu_cores", "op": "gt", "value": True}}, "rules.not.value"),
        ({"not": {"field": "cpu_cores", "op": "gt", "value": float("inf")}}, "rules.not.value"),
        ({"all": [{"field": "site_id", "op": "eq", "value": "x"}]}, "rules.all.0.value"),
        ({"all": [{"field": "hostname", "op": "eq", "value": "a", "x": 1}]}, "rules.all.0.x"),
        (
            {"all": [{"field": "last_seen_at", "op": "older_than_days", "value": -1}]},
            "rules.all.0.value",
        ),
        ({"all": [{"field": "software", "op": "installed"}]}, "rules.all.0.name"),
        (
            {"all": [{"field": "software", "op": "installed", "name": "a", "version": "1"}]},
            "rules.all.0.version_op",
        ),
        (
            {
                "all": [
                    {
                        "field": "software",
                        "op": "installed",
                        "name": "a",
                        "version_op": "~",
                        "version": "1",
                    }
                ]
            },
            "rules.all.0.version_op",
        ),
        ({"all": [{"field": "custom.env", "op": "eq", "value": "a"}]}, "rules.all.0.type"),
        ({"all": [{"field": "custom.Env", "op": "eq", "value": "a"}]}, "rules.all.0.field"),
        (
            {"all": [{"field": "custom.since", "op": "gt", "value": "2024-13-01", "type": "date"}]},
            "rules.all.0.value",
        ),
    ],
)
def test_errors_name_the_path(rules: Any, field: str) -> None:
    assert field_of(rules) == field


def test_custom_fields_are_typed_by_the_definitions() -> None:
    types = {"env": "select", "score": "number"}
    assert field_of({"all": [{"field": "custom.missing", "op": "exists"}]}, custom_types=types) == (
        "rules.all.0.field"
    )
    assert field_of(
        {"all": [{"field": "custom.score", "op": "eq", "value": "a"}]}, custom_types=types
    ) == ("rules.all.0.value")
    out = validate_rules(
        {"all": [{"field": "custom.env", "op": "eq", "value": "Prod", "type": "number"}]},
        custom_types=types,
    )
    assert out == {"all": [{"field": "custom.env", "op": "eq", "value": "prod", "type": "select"}]}


def test_limits() -> None:
    deep: dict[str, Any] = {"field": "hostname", "op": "exists"}
    for _ in range(MAX_DEPTH):
        deep = {"not": deep}
    assert field_of(deep).startswith("rules.not.not")
    wide = {"any": [{"field": "hostname", "op": "exists"}] * MAX_NODES}
    assert field_of(wide).startswith("rules.any.")


def test_normalisation() -> None:
    gid = uuid.uuid4()
    out = validate_rules(
        {
            "all": [
                {"field": "hostname", "op": "starts_with", "value": "WEB"},
                {"field": "tags", "op": "contains", "value": " EU   West "},
                {"field": "group", "op": "eq", "value": str(gid).upper()},
                {"field": "os_name", "op": "exists"},
                {
                    "field": "software",
                    "op": "installed",
                    "name": "OpenSSL",
                    "version_op": ">=",
                    "version": "3",
                },
            ]
        }
    )
    assert out["all"][0]["value"] == "web"
    assert out["all"][1]["value"] == "eu west"
    assert out["all"][2]["value"] == str(gid)
    assert out["all"][3] == {"field": "os_name", "op": "exists", "value": True}
    assert out["all"][4] == {
        "field": "software",
        "op": "installed",
        "name": "openssl",
        "name_match": "eq",
        "version_op": "gte",
        "version": "3",
    }
    assert referenced_groups(out) == {gid}


def test_predefined_rules_are_valid() -> None:
    for _name, _description, rules in PREDEFINED.values():
        assert validate_rules(rules, custom_types={}) == validate_rules(rules, custom_types={})


def matches(rule: dict[str, Any], facts: DeviceFacts) -> bool:
    return rule_matches(validate_rules(rule), facts, now=NOW)


def test_python_evaluator() -> None:
    server = DeviceFacts(
        os_type="windows",
        os_name="Windows Server 2022 Datacenter",
        hostname="DC-01",
        tags=["prod"],
        last_seen_at=NOW - timedelta(days=9),
        ram_total_mb=8192,
        disks=[("C:\\", 3 * GB), ("D:\\", 100 * GB)],
        software=[("OpenSSL", version_key("3.0.13")), ("7-Zip", version_key("23.01"))],
        custom_fields={"env": "prod", "score": 4, "roles": ["dc"], "active": True},
    )
    servers = PREDEFINED["servers"][2]
    offline = PREDEFINED["offline_7d"][2]
    assert matches(servers, server) and matches(offline, server)
    assert matches({"field": "hostname", "op": "eq", "value": "dc-01"}, server)
    assert not matches({"field": "display_name", "op": "ne", "value": "x"}, server)  # no value
    assert matches({"field": "display_name", "op": "exists", "value": False}, server)
    assert matches({"field": "disk_free_gb", "op": "lt", "value": 5}, server)
    assert not matches(
        {"field": "disk_free_gb", "op": "lt", "value": 5, "mountpoint": "D:\\"}, server
    )
    installed = {"field": "software", "op": "installed", "name": "openssl"}
    assert matches({**installed, "version_op": ">=", "version": "3.0"}, server)
    assert matches({**installed, "version_op": "<", "version": "3.0.100"}, server)
    assert not matches({**installed, "version_op": ">", "version": "3.1"}, server)
    assert matches({"field": "software", "op": "not_installed", "name": "curl"}, server)
    assert matches(
        {"field": "custom.roles", "op": "contains", "value": "dc", "type": "multiselect"}, server
    )
    assert not matches({"field": "custom.env", "op": "eq", "value": 4, "type": "number"}, server)
    assert matches({"field": "custom.score", "op": "gte", "value": 4, "type": "number"}, server)
    assert matches(
        {"field": "custom.active", "op": "ne", "value": False, "type": "boolean"}, server
    )
    assert matches(
        {"any": [{"not": {"field": "tags", "op": "contains", "value": "prod"}}, {"all": []}]},
        server,
    )
    assert not matches({"any": []}, server)
    desktop = DeviceFacts(os_type="linux", os_name="Ubuntu 24.04", software=[("gnome-shell", "1")])
    assert not matches(servers, desktop)
    headless = DeviceFacts(os_type="linux", os_name="Debian GNU/Linux 12", software=[("curl", "1")])
    assert matches(servers, headless)


def test_version_key_examples() -> None:
    ordered = ["1", "1.0.1", "1.2", "1.9", "1.10", "1.10.1", "2", "2.0a", "10"]
    keys = [version_key(v) for v in ordered]
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert version_key("1.01") == version_key("1.1")
    assert version_key(None) is None and version_key("  ") == ""


versions = st.lists(st.integers(0, 10**12), min_size=1, max_size=6)


@given(versions, versions)
def test_version_key_orders_dotted_versions_like_tuples(a: list[int], b: list[int]) -> None:
    ka = version_key(".".join(map(str, a)))
    kb = version_key(".".join(map(str, b)))
    assert ka is not None and kb is not None
    assert (ka < kb) == (tuple(a) < tuple(b))
    assert (ka == kb) == (a == b)


@given(versions, st.sampled_from(["-", "+", "~", "."]), versions)
def test_version_key_suffix_sorts_after_the_base(a: list[int], sep: str, b: list[int]) -> None:
    base = ".".join(map(str, a))
    longer = version_key(base + sep + ".".join(map(str, b)))
    key = version_key(base)
    assert key is not None and longer is not None and key < longer
