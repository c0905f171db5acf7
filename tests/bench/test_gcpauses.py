"""The benchmark's reading of the server's garbage-collector pauses over a window."""

from __future__ import annotations

import math

from bench import gcpauses


def test_gc_pauses_of_a_window_come_from_the_histogram_difference() -> None:
    def histogram(gen: str, under_10ms: int, under_25ms: int, total: int, seconds: float) -> str:
        name = "breeze_gc_pause_seconds"
        return (
            f'{name}_bucket{{generation="{gen}",le="0.01"}} {under_10ms}.0\n'
            f'{name}_bucket{{generation="{gen}",le="0.025"}} {under_25ms}.0\n'
            f'{name}_bucket{{generation="{gen}",le="+Inf"}} {total}.0\n'
            f'{name}_count{{generation="{gen}"}} {total}.0\n'
            f'{name}_sum{{generation="{gen}"}} {seconds}\n'
        )

    before = gcpauses.parse(histogram("0", 4, 7, 7, 0.1))
    after = gcpauses.parse(histogram("0", 6, 10, 10, 0.15) + histogram("2", 0, 0, 1, 3.0))
    window = gcpauses.between(before, after)
    assert window is not None
    assert window["0"]["collections"] == 3 and window["0"]["longest_under_ms"] == 25.0
    assert abs(window["0"]["paused_s"] - 0.05) < 1e-9
    assert window["2"] == {"collections": 1, "paused_s": 3.0, "longest_under_ms": math.inf}
    assert gcpauses.between(None, after) is None
