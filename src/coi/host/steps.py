"""Setup as a list of small steps: each knows whether it is done and how to do it.

`run_steps` checks every step in order and applies the ones not done, yielding an event
per step as it goes; the CLI renders them. It stops at the first failure, since later
steps build on earlier ones (no pool without a daemon, no profile without a pool).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from coi.errors import CoiError

DEFAULT_FIX = "fix the cause, then run `sudo coi setup` again"


class State(StrEnum):
    OK = "ok"  # was already done
    DONE = "done"  # done now
    PLANNED = "plan"  # dry run: would be done
    SKIPPED = "skip"  # does not apply on this host
    RUNNING = "running"  # a slow step has started
    FAILED = "failed"


@dataclass(frozen=True)
class Check:
    """A step's verdict: done or not, and a sentence saying what is (or will be) there."""

    done: bool
    message: str
    skipped: bool = False


class Step(ABC):
    """One idempotent piece of host setup."""

    name: ClassVar[str]
    slow: ClassVar[bool] = False  # worth a line before it starts (apt, mmdebstrap)

    @abstractmethod
    def check(self) -> Check:
        """Look, never touch. Raises CoiError when it cannot tell yet."""

    @abstractmethod
    def apply(self) -> str:
        """Make it so; return a sentence saying what was done. Raises CoiError."""


@dataclass(frozen=True)
class StepEvent:
    step: str
    state: State
    message: str
    fix: str | None = None
    seconds: float | None = None
    slow: bool = False  # RUNNING events of slow steps deserve a line of their own


def run_steps(steps: Iterable[Step], dry_run: bool = False) -> Iterator[StepEvent]:
    for step in steps:
        event = _evaluate(step, dry_run)
        yield event
        if event.state is State.RUNNING:
            event = _apply(step)
            yield event
        if event.state is State.FAILED:
            return


def _evaluate(step: Step, dry_run: bool) -> StepEvent:
    """Check a step: OK/SKIPPED/PLANNED/FAILED, or RUNNING when it must be applied."""
    try:
        verdict = step.check()
    except (CoiError, OSError) as exc:
        if dry_run:
            # It may depend on what the steps before it would do (a running daemon).
            return StepEvent(step.name, State.PLANNED, f"{step.name}: checked once the "
                             f"steps before it have run ({_text(exc)})")
        return _failure(step, exc)
    if verdict.skipped:
        return StepEvent(step.name, State.SKIPPED, verdict.message)
    if verdict.done:
        return StepEvent(step.name, State.OK, verdict.message)
    if dry_run:
        return StepEvent(step.name, State.PLANNED, verdict.message)
    return StepEvent(step.name, State.RUNNING, verdict.message, slow=step.slow)


def _apply(step: Step) -> StepEvent:
    started = time.monotonic()
    try:
        message = step.apply()
    except (CoiError, OSError) as exc:
        return _failure(step, exc)
    return StepEvent(step.name, State.DONE, message, seconds=time.monotonic() - started)


def _failure(step: Step, exc: Exception) -> StepEvent:
    fix = exc.hint if isinstance(exc, CoiError) and exc.hint else DEFAULT_FIX
    return StepEvent(step.name, State.FAILED, _text(exc), fix=fix)


def _text(exc: Exception) -> str:
    return exc.message if isinstance(exc, CoiError) else str(exc)


@dataclass(frozen=True)
class Summary:
    """What a run amounted to, for the last line of output and the exit status."""

    changed: int
    planned: int
    failed: StepEvent | None

    @property
    def nothing_to_do(self) -> bool:
        return not self.changed and not self.planned and self.failed is None


def summarize(events: Iterable[StepEvent]) -> Summary:
    changed = planned = 0
    failed = None
    for event in events:
        changed += event.state is State.DONE
        planned += event.state is State.PLANNED
        if event.state is State.FAILED:
            failed = event
    return Summary(changed, planned, failed)
