"""What a detector reports: a severity, the detector's name, a title and evidence."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """Ordered so that `max()` and comparisons pick the worse one."""

    INFO = 0
    WARNING = 1
    HIGH = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of {names})") from None


@dataclass(frozen=True)
class Finding:
    """One detection. `key` identifies the thing seen (a pid, a socket) for dedupe;
    `evidence` holds JSON-ready values only (str, int, float, bool, lists, dicts)."""

    severity: Severity
    detector: str
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)
    key: str = ""


class Deduper:
    """Drops a finding whose detector and key were already reported within `window_s`
    seconds. A worse severity for the same key is never dropped."""

    def __init__(self, window_s: float = 30.0) -> None:
        self.window_s = window_s
        self._seen: dict[tuple[str, str], tuple[float, Severity]] = {}

    def is_new(self, finding: Finding, now: float) -> bool:
        ident = (finding.detector, finding.key)
        last = self._seen.get(ident)
        if last is not None and now - last[0] < self.window_s and finding.severity <= last[1]:
            return False
        self._seen[ident] = (now, finding.severity)
        self._forget_before(now - self.window_s)
        return True

    def _forget_before(self, cutoff: float) -> None:
        if len(self._seen) < 1024:
            return
        self._seen = {k: v for k, v in self._seen.items() if v[0] >= cutoff}
