"""When Breeze analyzes or vacuums a table itself: autovacuum's default thresholds."""

from __future__ import annotations

from breeze.db.maintenance import TableWork, work_for


def test_a_table_never_analyzed_is_analyzed_once_it_has_rows() -> None:
    assert work_for(live=10, dead=0, modified=10, never_analyzed=True) is False
    assert work_for(live=0, dead=0, modified=0, never_analyzed=True) is None


def test_analyze_after_a_tenth_of_the_rows_changed() -> None:
    assert work_for(live=10_000, dead=0, modified=1_000, never_analyzed=False) is None
    assert work_for(live=10_000, dead=0, modified=1_051, never_analyzed=False) is False


def test_vacuum_after_a_fifth_of_the_rows_died() -> None:
    # Heartbeats rewrite every device row a minute: dead rows pile up without vacuum.
    assert work_for(live=10_000, dead=2_051, modified=0, never_analyzed=False) is True
    assert work_for(live=10_000, dead=2_000, modified=0, never_analyzed=False) is None


def test_statements_quote_the_table() -> None:
    assert TableWork("devices", vacuum=True).statement('"devices"') == 'VACUUM (ANALYZE) "devices"'
    assert TableWork("devices", vacuum=False).statement('"devices"') == 'ANALYZE "devices"'
