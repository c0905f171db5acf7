"""Rules in words on the group page, and the field catalog the rule builder offers: both
follow breeze.groups.fields, so every operator the server accepts has words."""

from __future__ import annotations

import uuid

from breeze.customfields.models import CustomField
from breeze.groups import fields as rf
from breeze.groups.views_rules import OP_WORDS, Choice, Names, catalog, describe

SITE = str(uuid.uuid4())
NAMES = Names(sites={SITE: "Head office"}, groups={}, custom={"role": "Server role"})


def test_nested_rules_read_as_a_sentence() -> None:
    rules = {
        "all": [
            {"field": "os_type", "op": "eq", "value": "linux"},
            {
                "field": "software",
                "op": "installed",
                "name": "coreutils",
                "name_match": "eq",
                "version_op": "gte",
                "version": "9",
            },
            {
                "any": [
                    {"field": "ram_total_mb", "op": "gte", "value": 8192.0},
                    {"field": "custom.role", "type": "select", "op": "in", "value": ["db", "web"]},
                ]
            },
            {"not": {"field": "tags", "op": "contains", "value": "retired"}},
            {"field": "site_id", "op": "eq", "value": SITE},
            {"field": "last_seen_at", "op": "older_than_days", "value": 7},
        ]
    }
    assert describe(rules, NAMES) == (
        "OS type is 'linux' AND software 'coreutils' ≥ 9 is installed AND "
        "(RAM (MB) ≥ 8192 OR Server role is one of ['db', 'web']) AND "
        "NOT Tags includes 'retired' AND Site is 'Head office' AND Last seen more than 7 days ago"
    )
    assert describe({"any": []}, NAMES) == "no device"
    assert describe({"field": "hostname", "op": "exists", "value": False}, NAMES) == (
        "Hostname has no value"
    )


def test_every_operator_of_every_kind_has_words() -> None:
    for kind, ops in rf.OPS.items():
        assert set(ops) <= set(OP_WORDS[kind]), kind


def test_catalog_types_custom_fields_by_their_definition() -> None:
    tier = CustomField(key="tier", name="Tier", type="select", options=["gold", "silver"])
    due = CustomField(key="due", name="Warranty", type="date", options=[])
    built = catalog(
        sites=[Choice(SITE, "Head office")], groups=[], tags=["kiosk"], custom_fields=[tier, due]
    )
    fields = {f["key"]: f for s in built["sections"] for f in s["fields"]}
    assert fields["custom.tier"]["kind"] == "text" and fields["custom.tier"]["type"] == "select"
    assert [c["value"] for c in fields["custom.tier"]["choices"]] == ["gold", "silver"]
    assert [o["op"] for o in fields["custom.due"]["ops"]] == list(rf.DATE_OPS)
    assert fields["site_id"]["choices"] == [{"value": SITE, "label": "Head office"}]
    assert fields["tags"]["suggestions"] == ["kiosk"]
    assert [c["value"] for c in fields["os_type"]["choices"]][:3] == ["linux", "windows", "macos"]
