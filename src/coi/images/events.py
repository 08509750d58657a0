"""What a build reports while it runs, and how it fails.

The builder never prints: it calls an `Emit` callback with BuildEvents (from its own
thread and, for the script's output, from the exec reader threads; callers that draw
must not assume one thread). The CLI renders them; tests collect them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from coi.errors import CoiError


class Kind(StrEnum):
    STEP = "step"  # a step of the builder itself (create, publish, ...)
    PHASE = "phase"  # a `::phase:: text` line printed by the recipe
    OUTPUT = "output"  # any other line the recipe printed
    NOTE = "note"  # something worth telling that is not progress (stale cleanup, ...)


@dataclass(frozen=True)
class BuildEvent:
    kind: Kind
    text: str
    elapsed: float  # seconds since the build started


Emit = Callable[[BuildEvent], None]


def ignore(event: BuildEvent) -> None:
    """An Emit that drops everything (the log file still gets it all)."""


@dataclass
class Clock:
    """Seconds since the build started, for event stamps and the summary."""

    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def plain_line(event: BuildEvent) -> str:
    """An event as one line for logs and non-terminal output: `[12.3s] phase: text`."""
    label = {Kind.STEP: "step", Kind.PHASE: "phase", Kind.NOTE: "note"}.get(event.kind)
    stamp = f"[{event.elapsed:.1f}s]"
    return f"{stamp} {label}: {event.text}" if label else f"{stamp} {event.text}"


class BuildFailed(CoiError):
    """A build that did not produce its image; nothing half-made was left behind.

    Carries the build log and its last lines, so the CLI can show them.
    """

    def __init__(self, message: str, log_path: Path | None, tail: Sequence[str] = ()) -> None:
        hint = f"see the build log: {log_path}" if log_path else None
        super().__init__(message, hint)
        self.log_path = log_path
        self.tail = tuple(tail)
