"""The step runner: check, apply what is missing, stop at the first failure."""

from __future__ import annotations

from coi.errors import IncusUnreachable, SetupError
from coi.host.steps import Check, State, Step, StepEvent, run_steps, summarize


class Fake(Step):
    name = "fake"

    def __init__(self, name: str, *, done: bool = False, fail: Exception | None = None,
                 check_error: Exception | None = None, skipped: bool = False,
                 slow: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.slow = slow  # type: ignore[misc]
        self.done, self.fail, self.check_error, self.skipped = done, fail, check_error, skipped
        self.applied = False

    def check(self) -> Check:
        if self.check_error:
            raise self.check_error
        return Check(self.done, f"{self.name} state", skipped=self.skipped)

    def apply(self) -> str:
        self.applied = True
        if self.fail:
            raise self.fail
        return f"did {self.name}"


def states(events: list[StepEvent]) -> list[tuple[str, State]]:
    return [(e.step, e.state) for e in events]


def test_done_steps_are_left_alone_and_missing_ones_applied() -> None:
    a, b = Fake("a", done=True), Fake("b")
    events = list(run_steps([a, b]))
    assert states(events) == [("a", State.OK), ("b", State.RUNNING), ("b", State.DONE)]
    assert not a.applied and b.applied
    assert events[-1].message == "did b" and events[-1].seconds is not None


def test_dry_run_applies_nothing() -> None:
    a = Fake("a")
    events = list(run_steps([a, Fake("b", done=True)], dry_run=True))
    assert states(events) == [("a", State.PLANNED), ("b", State.OK)]
    assert not a.applied


def test_a_failure_stops_the_run_with_the_fix() -> None:
    later = Fake("later")
    events = list(run_steps([Fake("a", fail=SetupError("boom", hint="do X")), later]))
    assert states(events) == [("a", State.RUNNING), ("a", State.FAILED)]
    assert events[-1].message == "boom" and events[-1].fix == "do X"
    assert not later.applied


def test_os_errors_are_failures_with_a_generic_fix() -> None:
    events = list(run_steps([Fake("a", fail=PermissionError("denied"))]))
    assert events[-1].state is State.FAILED and "denied" in events[-1].message
    assert events[-1].fix


def test_a_check_that_cannot_tell_fails_a_real_run_but_not_a_dry_run() -> None:
    unreachable = IncusUnreachable("daemon down")
    real = list(run_steps([Fake("pool", check_error=unreachable)]))
    assert states(real) == [("pool", State.FAILED)]
    dry = list(run_steps([Fake("pool", check_error=unreachable), Fake("x")], dry_run=True))
    assert states(dry) == [("pool", State.PLANNED), ("x", State.PLANNED)]
    assert "daemon down" in dry[0].message


def test_skipped_steps_are_not_applied() -> None:
    step = Fake("sudoers", done=True, skipped=True)
    assert states(list(run_steps([step]))) == [("sudoers", State.SKIPPED)]


def test_running_events_say_whether_the_step_is_slow() -> None:
    events = list(run_steps([Fake("apt", slow=True), Fake("quick")]))
    running = [e for e in events if e.state is State.RUNNING]
    assert [(e.step, e.slow) for e in running] == [("apt", True), ("quick", False)]


def test_summary() -> None:
    assert summarize(run_steps([Fake("a", done=True), Fake("s", done=True, skipped=True)])
                     ).nothing_to_do
    changed = summarize(run_steps([Fake("a"), Fake("b", done=True)]))
    assert (changed.changed, changed.planned, changed.nothing_to_do) == (1, 0, False)
    planned = summarize(run_steps([Fake("a")], dry_run=True))
    assert (planned.planned, planned.nothing_to_do) == (1, False)
    failed = summarize(run_steps([Fake("a", fail=SetupError("x"))]))
    assert failed.failed is not None and failed.failed.step == "a"
