"""The metrics API's time window: defaults, UTC for naive times, limits per resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from breeze.core.errors import InvalidInput
from breeze.metrics.queries import window
from breeze.metrics.storage import floor_hour, partition_name

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def test_defaults_to_the_last_24_hours() -> None:
    assert window(None, None, "raw", NOW) == (NOW - timedelta(hours=24), NOW)


def test_naive_times_are_utc() -> None:
    start, end = window(datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 11), "raw", NOW)
    assert (start.tzinfo, end.tzinfo) == (UTC, UTC)
    assert end - start == timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "end", "resolution", "field"),
    [
        (NOW, NOW, "raw", "to"),
        (NOW, NOW - timedelta(seconds=1), "raw", "to"),
        (NOW - timedelta(days=32), NOW, "raw", "from"),
        (NOW - timedelta(days=401), NOW, "1h", "from"),
        (None, datetime(1, 1, 1, tzinfo=UTC), "raw", "from"),
    ],
)
def test_bad_windows(
    start: datetime | None, end: datetime | None, resolution: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        window(start, end, resolution, NOW)  # type: ignore[arg-type]
    assert caught.value.problems[0].field == field


def test_long_windows_at_hourly_resolution() -> None:
    start, _ = window(NOW - timedelta(days=365), None, "1h", NOW)
    assert start == NOW - timedelta(days=365)


def test_hours_and_partition_names() -> None:
    assert floor_hour(NOW) == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert partition_name(NOW.date()) == "device_metrics_d20260301"
