"""Wire schemas: versioned, strict, units declared."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from breeze_agent.collectors import ALL_COLLECTORS, collect_inventory
from breeze_protocol import (
    PROTOCOL_VERSION,
    HardwareInfo,
    HeartbeatMetrics,
    Inventory,
    SoftwareItem,
    field_specs,
)


def test_version_is_one() -> None:
    assert PROTOCOL_VERSION == 1


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        HardwareInfo.model_validate({"architecture": "x86_64", "ram_total_gigs": 8})


def test_timestamps_must_be_timezone_aware() -> None:
    with pytest.raises(pydantic.ValidationError):
        Inventory(agent_version="0.1.0", collected_at=datetime(2024, 1, 1))
    Inventory(agent_version="0.1.0", collected_at=datetime(2024, 1, 1, tzinfo=UTC))


def test_percentages_are_bounded() -> None:
    with pytest.raises(pydantic.ValidationError):
        HeartbeatMetrics(
            cpu_percent=101,
            ram_percent=1,
            ram_used_mb=1,
            network_in_bytes=0,
            network_out_bytes=0,
            process_count=1,
        )


def test_units_are_in_the_json_schema() -> None:
    props = HeartbeatMetrics.model_json_schema()["properties"]
    assert props["ram_used_mb"]["unit"] == "MiB"
    assert props["disk_used_gb"]["unit"] == "GiB"
    assert field_specs(SoftwareItem)["version"].description


def test_every_collector_declares_its_fields() -> None:
    for name, module in ALL_COLLECTORS.items():
        assert name == module.SECTION
        assert field_specs(module.MODEL) == module.FIELDS
        for field, spec in module.FIELDS.items():
            assert spec.description, f"{name}.{field} has no description"


def test_inventory_round_trips() -> None:
    inventory = collect_inventory(["hardware", "os", "users"])
    assert Inventory.model_validate_json(inventory.model_dump_json()) == inventory
