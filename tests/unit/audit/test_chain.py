"""The audit hash chain: canonical form and checksum of a row."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from breeze.audit.chain import CHAINED_FIELDS, GENESIS, canonical, checksum


def _row(**overrides: Any) -> SimpleNamespace:
    fields: dict[str, Any] = {
        "seq": 7,
        "partner_id": uuid.UUID("11111111-1111-1111-1111-111111111111"),
        "org_id": None,
        "timestamp": datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC),
        "actor_type": "user",
        "actor_id": uuid.UUID("22222222-2222-2222-2222-222222222222"),
        "actor_email": "ops@example.com",
        "action": "org.create",
        "resource_type": "organization",
        "resource_id": "33333333-3333-3333-3333-333333333333",
        "resource_name": "Café Zürich",
        "details": {"slug": "cafe", "nested": {"b": 2, "a": [1, "x"]}},
        "ip_address": "127.0.0.1",
        "user_agent": "pytest",
        "result": "success",
        "error_message": None,
    }
    fields.update(overrides)
    return SimpleNamespace(**fields)


def test_canonical_form_is_sorted_compact_json_of_the_chained_fields() -> None:
    text = canonical(_row())
    data = json.loads(text)
    assert list(data) == sorted(CHAINED_FIELDS)
    assert " " not in text.replace("Café Zürich", "")
    assert "Café Zürich" in text  # not \u-escaped
    assert data["timestamp"] == "2025-03-04T05:06:07.123456Z"
    assert data["partner_id"] == "11111111-1111-1111-1111-111111111111"
    assert data["org_id"] is None


def test_checksum_is_sha256_of_previous_checksum_and_canonical_row() -> None:
    row = _row()
    expected = hashlib.sha256((GENESIS + canonical(row)).encode()).hexdigest()
    assert checksum(GENESIS, row) == expected
    assert len(GENESIS) == 64
    assert set(GENESIS) == {"0"}


def test_same_instant_in_another_zone_hashes_the_same() -> None:
    utc = _row()
    plus2 = _row(timestamp=utc.timestamp.astimezone(timezone(timedelta(hours=2))))
    assert canonical(utc) == canonical(plus2)


def test_key_order_of_details_does_not_matter() -> None:
    a = _row(details={"a": 1, "b": {"y": 1, "x": 2}})
    b = _row(details={"b": {"x": 2, "y": 1}, "a": 1})
    assert checksum(GENESIS, a) == checksum(GENESIS, b)


def test_every_chained_field_changes_the_checksum() -> None:
    base = checksum(GENESIS, _row())
    changed = {
        "seq": 8,
        "partner_id": uuid.uuid4(),
        "org_id": uuid.uuid4(),
        "timestamp": datetime(2025, 3, 4, 5, 6, 7, 123457, tzinfo=UTC),
        "actor_type": "api_key",
        "actor_id": None,
        "actor_email": "other@example.com",
        "action": "org.delete",
        "resource_type": "site",
        "resource_id": "x",
        "resource_name": "Cafe Zurich",
        "details": {"slug": "cafe"},
        "ip_address": "10.0.0.1",
        "user_agent": "curl",
        "result": "failure",
        "error_message": "boom",
    }
    assert set(changed) == set(CHAINED_FIELDS)
    for name, value in changed.items():
        assert checksum(GENESIS, _row(**{name: value})) != base, name


def test_previous_checksum_is_part_of_the_hash() -> None:
    row = _row()
    assert checksum(GENESIS, row) != checksum("f" * 64, row)


def test_fields_outside_the_chain_are_ignored() -> None:
    row = _row()
    tagged = _row(checksum="whatever", prev_checksum="x", id=uuid.uuid4())
    assert canonical(row) == canonical(tagged)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(details=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_canonical_survives_a_json_round_trip_of_details(details: dict[str, Any]) -> None:
    """What the database gives back (JSON decoded again) hashes like what was written."""
    stored = json.loads(json.dumps(details))
    assert checksum(GENESIS, _row(details=details)) == checksum(GENESIS, _row(details=stored))
