"""Counter-based detectors: workspace read volume and process count."""

from __future__ import annotations

from collections import deque

from coi.monitor.findings import Finding, Severity

MB = 1024 * 1024
HIGH_FACTOR = 10.0  # this many times a threshold turns WARNING into HIGH
RATE_WINDOW = 5.0  # seconds a read rate is averaged over: one burst is not a rate


class ReadRateTracker:
    """Fed the container's cumulative read bytes (cgroup `io.stat` rbytes) with a
    timestamp. Alerts when the bytes read within the last `window_s` seconds exceed
    `threshold_mb`, or when the rate over the last `RATE_WINDOW` seconds exceeds
    `rate_mb_s` (a shorter burst is averaged over the whole window: reading one 25 MB
    file at once is not a 50 MB/s exfiltration); HIGH at `HIGH_FACTOR` times either.
    A counter that goes backwards (a new cgroup) starts over."""

    def __init__(self, threshold_mb: float, rate_mb_s: float, window_s: float = 60.0) -> None:
        self.threshold_mb = threshold_mb
        self.rate_mb_s = rate_mb_s
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, total_bytes: int, now: float) -> Finding | None:
        if self._samples and total_bytes < self._samples[-1][1]:
            self._samples.clear()
        previous = self._samples[-1] if self._samples else None
        self._samples.append((now, total_bytes))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window_s:
            self._samples.popleft()
        if previous is None:
            return None
        window_mb = (total_bytes - self._samples[0][1]) / MB
        since = next(s for s in self._samples if s[0] >= now - RATE_WINDOW
                     or s is self._samples[-1])
        if since[0] == now:  # every sample in the window is this one: the one before it
            since = previous
        rate = (total_bytes - since[1]) / MB / max(now - since[0], RATE_WINDOW)
        return self._judge(window_mb, rate, now - self._samples[0][0])

    def _judge(self, window_mb: float, rate: float, span_s: float) -> Finding | None:
        volume = _level(window_mb, self.threshold_mb)
        speed = _level(rate, self.rate_mb_s)
        severity = max(volume, speed)
        if severity == Severity.INFO:
            return None
        evidence = {"read_mb": round(window_mb, 1), "window_s": round(span_s, 1),
                    "rate_mb_per_sec": round(rate, 1), "threshold_mb": self.threshold_mb,
                    "rate_threshold_mb_per_sec": self.rate_mb_s}
        return Finding(severity, "file_read", "Large workspace read", evidence,
                       key="volume" if volume == severity else "rate")


def _level(value: float, threshold: float) -> Severity:
    if threshold <= 0 or value <= threshold:
        return Severity.INFO
    return Severity.HIGH if value >= threshold * HIGH_FACTOR else Severity.WARNING


def process_count(count: int, limit: int | None, ratio: float = 0.8) -> Finding | None:
    """WARNING when the container runs at least `ratio` of its `limits.processes`."""
    if not limit or limit <= 0 or count < limit * ratio:
        return None
    return Finding(Severity.WARNING, "process_count", "Process count near limit",
                   {"count": count, "limit": limit, "percent": round(100 * count / limit)},
                   key="processes")
