"""A session the monitor flagged is not restored by --resume without confirmation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
import pytest

from coi.cli import shell as shell_cmd
from coi.errors import PolicyError
from coi.session import resume
from coi.session.record import SessionRecord
from coi.session.store import SessionStore
from tests.unit.test_lifecycle_fakes import container, store_at, stored

THREAT = {"severity": "critical", "detector": "reverse_shell", "title": "Reverse shell detected",
          "action": "killed", "time": "2026-03-01T10:00:00+00:00"}


def flagged(store: SessionStore, **kw: object) -> SessionRecord:
    return stored(store, container(), saved_at="2026-03-01T09:00:00+00:00", has_state=True,
                  ended_at="2026-03-01T10:00:01+00:00", end_reason="threat",
                  threat=dict(THREAT), **kw)


def test_select_resume_refuses_a_flagged_session(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    record = flagged(store)
    for ident in (resume.AUTO, record.session_id):
        with pytest.raises(PolicyError) as exc:
            resume.select_resume(store, "/ws", "dummy", ident)
        assert exc.value.exit_code == 9
        assert f"Session {record.session_id} was killed by the monitor" in exc.value.message
        assert "Reverse shell detected, 2026-03-01 10:00:00 UTC" in exc.value.message
        assert "--accept-flagged" in (exc.value.hint or "")
    assert resume.find_resume(store, "/ws", "dummy", resume.AUTO) == record


def test_acceptance_is_recorded_and_then_resume_goes_ahead(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    record = flagged(store)
    accepted = resume.accept(store, record)
    assert accepted.threat is not None and accepted.threat["accepted_at"]
    assert accepted.threat["title"] == THREAT["title"], "the marker itself is kept"
    assert resume.select_resume(store, "/ws", "dummy", record.session_id) == accepted
    # a later threat replaces the marker: a new confirmation is needed
    store.write(accepted.flagged({**THREAT, "action": "paused", "title": "Env scan"}))
    with pytest.raises(PolicyError, match="was paused by the monitor \\(Env scan"):
        resume.select_resume(store, "/ws", "dummy", record.session_id)


def test_unflagged_sessions_resume_as_before(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    record = stored(store, container(), has_state=True)
    assert resume.select_resume(store, "/ws", "dummy", resume.AUTO) == record
    assert not resume.needs_confirmation(record)
    assert resume.flagged_action(replace(record, threat={"action": "paused"})) == "paused"


class Plan:
    """The parts of a SessionPlan `confirm_flagged` reads."""

    def __init__(self, ident: str | None) -> None:
        self.resume = ident
        self.workspace = "/ws"

        class Tool:
            name = "dummy"

        class Flags:
            tool = None

        self.tool, self.flags = Tool(), Flags()


def test_shell_refuses_without_a_terminal(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_at(tmp_path)
    flagged(store)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(PolicyError):
        shell_cmd.confirm_flagged(store, Plan(resume.AUTO), False)  # type: ignore[arg-type]
    shell_cmd.confirm_flagged(store, Plan(None), False)  # type: ignore[arg-type]
    shell_cmd.confirm_flagged(store, Plan(resume.AUTO), True)  # type: ignore[arg-type]
    assert not resume.needs_confirmation(store.all()[0])


@pytest.mark.parametrize("answer", [True, False])
def test_shell_asks_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  answer: bool) -> None:
    store = store_at(tmp_path)
    record = flagged(store)
    asked: list[str] = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)

    def confirm(text: str, **_: object) -> bool:
        asked.append(text)
        return answer

    monkeypatch.setattr(click, "confirm", confirm)
    if answer:
        shell_cmd.confirm_flagged(store, Plan(resume.AUTO), False)  # type: ignore[arg-type]
    else:
        with pytest.raises(click.Abort):
            shell_cmd.confirm_flagged(store, Plan(resume.AUTO), False)  # type: ignore[arg-type]
    assert asked == [f"Session {record.session_id} was killed by the monitor (Reverse shell "
                     "detected, 2026-03-01 10:00:00 UTC). Restore its saved state anyway?"]
    assert resume.needs_confirmation(store.all()[0]) is not answer
