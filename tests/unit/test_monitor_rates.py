"""Workspace read volume/rate and process count detectors."""

from __future__ import annotations

from coi.monitor.findings import Severity
from coi.monitor.rates import MB, ReadRateTracker, process_count


def feed(tracker: ReadRateTracker, samples: list[tuple[float, float]]) -> list[str | None]:
    """(time, cumulative MB) samples → the severity label of each answer."""
    out = []
    for now, total_mb in samples:
        finding = tracker.update(int(total_mb * MB), now)
        out.append(finding.severity.label if finding else None)
    return out


def test_first_sample_is_only_a_baseline() -> None:
    assert feed(ReadRateTracker(50, 10), [(0, 5000)]) == [None]


def test_slow_reads_under_the_thresholds_are_quiet() -> None:
    samples = [(t * 2.0, t * 10.0) for t in range(60)]  # 5 MB/s, ~300 MB per minute
    assert set(feed(ReadRateTracker(400, 10), samples)) == {None}


def test_volume_in_window_warns_then_goes_high() -> None:
    tracker = ReadRateTracker(50, 1000, window_s=60)
    assert feed(tracker, [(0, 0), (2, 30), (4, 60)]) == [None, None, "warning"]
    assert feed(tracker, [(6, 250)]) == ["warning"], "200 MB with a 50 MB threshold"
    assert feed(tracker, [(8, 520)]) == ["high"], "ten times the threshold"


def test_old_reads_leave_the_window() -> None:
    tracker = ReadRateTracker(50, 1000, window_s=10)
    assert feed(tracker, [(0, 0), (2, 40), (20, 60)]) == [None, None, None]


def test_rate_is_averaged_over_five_seconds_and_ten_times_is_high() -> None:
    tracker = ReadRateTracker(10_000, 10)
    # 30 MB in 2 s is 15 MB/s for a poll, but 6 MB/s over the 5 s window: quiet.
    assert feed(tracker, [(0, 0), (2, 30)]) == [None, None]
    assert feed(tracker, [(4, 90)]) == ["warning"], "90 MB in 4 s: 18 MB/s over 5 s"
    assert feed(tracker, [(6, 700)]) == ["high"], "610 MB in 2 s: over 100 MB/s"
    assert feed(tracker, [(20, 701)]) == [None]


def test_one_burst_of_a_big_file_is_not_a_rate() -> None:
    """`sha256sum` of a 25 MB file between two polls 0.5 s apart: 50 MB/s for that
    interval, 5 MB/s over the window."""
    tracker = ReadRateTracker(50, 10)
    assert feed(tracker, [(0, 0), (0.5, 0), (1.0, 25)]) == [None, None, None]


def test_evidence_carries_numbers() -> None:
    tracker = ReadRateTracker(50, 10)
    tracker.update(0, 0.0)
    finding = tracker.update(100 * MB, 2.0)
    assert finding is not None and finding.severity == Severity.WARNING
    assert finding.evidence["read_mb"] == 100.0
    assert finding.evidence["rate_mb_per_sec"] == 20.0
    assert finding.detector == "file_read"


def test_counter_reset_starts_over() -> None:
    tracker = ReadRateTracker(50, 10)
    assert feed(tracker, [(0, 1000), (2, 1), (4, 2)]) == [None, None, None]


def test_process_count_warns_at_80_percent() -> None:
    assert process_count(79, 100) is None
    finding = process_count(80, 100)
    assert finding is not None and finding.severity == Severity.WARNING
    assert finding.evidence == {"count": 80, "limit": 100, "percent": 80}
    assert process_count(5000, None) is None and process_count(5000, 0) is None
