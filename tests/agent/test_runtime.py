"""Agent runtime logic: heartbeat jitter, error backoff, Retry-After, inventory deltas."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breeze_agent.collectors import collect_inventory
from breeze_agent.state import AgentState, delta, load_state, save_state, section_hashes
from breeze_agent.timing import Backoff, jittered, parse_retry_after, retry_after_delay
from breeze_protocol import INVENTORY_SECTIONS, Inventory, SoftwareItem


@given(st.floats(min_value=1, max_value=86400), st.integers(min_value=0, max_value=2**32))
def test_jitter_stays_within_ten_percent(interval: float, seed: int) -> None:
    value = jittered(interval, rng=random.Random(seed))
    assert interval * 0.9 <= value <= interval * 1.1


def test_jitter_actually_spreads() -> None:
    rng = random.Random(7)
    values = [jittered(60.0, rng=rng) for _ in range(2000)]
    assert min(values) >= 54.0 and max(values) <= 66.0
    assert min(values) < 55.0 and max(values) > 65.0  # uses the whole +-10% band
    assert len({round(v, 3) for v in values}) > 1500


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    b = Backoff(base=1.0, cap=60.0, rng=random.Random(1))
    assert [b.ceiling(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert b.ceiling(0) == 0 and b.ceiling(10_000) == 60  # no overflow on long outages
    delays = [b.next_delay() for _ in range(12)]
    for n, d in enumerate(delays, start=1):
        assert b.ceiling(n) / 2 <= d <= b.ceiling(n)
    assert all(d > 0 for d in delays)  # never zero: a failing agent does not spin
    b.reset()
    assert b.failures == 0 and b.next_delay() <= 1.0


def test_backoff_is_jittered() -> None:
    delays = {
        round(Backoff(base=10, cap=10, rng=random.Random(s)).next_delay(), 6) for s in range(50)
    }
    assert len(delays) > 40 and all(5 <= d <= 10 for d in delays)


def test_backoff_refuses_nonsense() -> None:
    for kwargs in ({"base": 0}, {"base": 10, "cap": 5}, {"factor": 0.5}):
        with pytest.raises(ValueError):
            Backoff(**kwargs)  # type: ignore[arg-type]


def test_retry_after_forms() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 120 ") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    for junk in (None, "", "soon", "-3", "1.5e3"):
        assert parse_retry_after(junk, now) is None


@given(st.floats(min_value=0.001, max_value=3600), st.integers(min_value=0, max_value=2**32))
def test_retry_after_is_never_shortened(seconds: float, seed: int) -> None:
    wait = retry_after_delay(seconds, rng=random.Random(seed))
    assert seconds <= wait <= seconds * 1.1


def test_retry_after_zero_still_waits_a_little() -> None:
    assert 0 <= retry_after_delay(0, rng=random.Random(3)) <= 1


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    inv = collect_inventory()
    assert inv.errors == {}
    return inv


def _with(inv: Inventory, **sections: object) -> Inventory:
    return inv.model_copy(update=sections)


def test_first_delta_sends_everything_and_an_unchanged_machine_sends_nothing(
    inventory: Inventory,
) -> None:
    document, hashes = delta(inventory, {})
    assert document is not None and document.mode == "delta"
    assert set(hashes) == set(INVENTORY_SECTIONS)
    for name in INVENTORY_SECTIONS:
        assert getattr(document, name) == getattr(inventory, name)
    again, same = delta(collect_inventory(["hardware", "software"]), hashes)
    assert same == hashes
    assert again is None


def test_only_the_changed_section_is_sent(inventory: Inventory) -> None:
    _, hashes = delta(inventory, {})
    assert inventory.software is not None
    extra = SoftwareItem(name="breeze-test-pkg", version="1.0", source="dpkg")
    software = inventory.software.model_copy(update={"items": [*inventory.software.items, extra]})
    document, new_hashes = delta(_with(inventory, software=software), hashes)
    assert document is not None
    sent = [n for n in INVENTORY_SECTIONS if getattr(document, n) is not None]
    assert sent == ["software"]
    assert document.software is not None and extra in document.software.items
    assert {k for k in hashes if hashes[k] != new_hashes[k]} == {"software"}
    Inventory.model_validate_json(document.model_dump_json())  # valid on the wire


def test_uptime_alone_is_not_a_change(inventory: Inventory) -> None:
    _, hashes = delta(inventory, {})
    assert inventory.os is not None
    later = inventory.os.model_copy(update={"uptime_seconds": inventory.os.uptime_seconds + 3600})
    assert delta(_with(inventory, os=later), hashes)[0] is None
    renamed = inventory.os.model_copy(update={"hostname": "renamed-host"})
    document, _ = delta(_with(inventory, os=renamed), hashes)
    assert document is not None and document.os is not None and document.hardware is None


def test_a_failed_collector_keeps_its_previous_hash(inventory: Inventory) -> None:
    _, hashes = delta(inventory, {})
    failed = _with(inventory, users=None, errors={"users": "RuntimeError: boom"})
    document, new_hashes = delta(failed, hashes)
    assert document is None  # nothing else changed; the failure is not a "removal"
    assert new_hashes["users"] == hashes["users"]


def test_state_round_trip_and_damaged_state(tmp_path: Path, inventory: Inventory) -> None:
    path = tmp_path / "agent.state.json"
    assert load_state(path) == AgentState()
    state = AgentState(full_inventory_sent=True, section_hashes=section_hashes(inventory))
    state.heartbeat(True, "ok")
    save_state(path, state)
    assert load_state(path) == state
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("{broken")
    assert load_state(path) == AgentState()  # starts over with a full inventory
