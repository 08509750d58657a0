"""Ending sessions from outside: shutdown, kill, persist, and which containers NAMES mean."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from coi.cli.lifecycle_env import confirm, outcome_text
from coi.errors import NotFound, UsageError
from coi.session.lifecycle import End, Outcome, end_session, persist, select
from coi.session.store import SessionStore
from tests.unit.test_lifecycle_fakes import FakeBackend, container, store_at, stored


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return store_at(tmp_path)


def test_select_by_name_keeps_order_and_drops_repeats() -> None:
    a, b = container("coi-0123abcd-1"), container("coi-0123abcd-2")
    chosen = select([a, b], ["coi-0123abcd-2", "coi-0123abcd-1", "coi-0123abcd-2"], False)
    assert [c.name for c in chosen] == ["coi-0123abcd-2", "coi-0123abcd-1"]
    assert select([a, b], [], True) == [a, b]


def test_select_needs_names_or_all_and_mentions_coi_list() -> None:
    with pytest.raises(UsageError, match="no container names") as exc:
        select([container()], [], False)
    assert "coi list" in str(exc.value)
    with pytest.raises(UsageError, match="not both"):
        select([container()], ["coi-0123abcd-1"], True)


def test_select_names_every_unknown_container() -> None:
    with pytest.raises(NotFound, match="coi-ffffffff-1, coi-ffffffff-2"):
        select([container()], ["coi-ffffffff-1", "coi-0123abcd-1", "coi-ffffffff-2"], False)


def test_shutdown_saves_reclaims_stops_cleanly_then_deletes(store: SessionStore) -> None:
    target = container()
    stored(store, target)
    backend = FakeBackend(store)
    outcome = end_session(backend, store, target, End.SHUTDOWN, timeout=60)
    assert backend.calls == [("dismiss", target.name, "term"), ("save", target.name),
                             ("reclaim", target.name), ("stop", target.name, "clean 60s"),
                             ("delete", target.name)]
    assert (outcome.action, outcome.saved, outcome.error) == ("deleted", True, None)
    record = store.load("dummy", target.session_id or "")
    assert record.end_reason == "shutdown" and record.ended_at and record.has_state


def test_shutdown_keeps_a_persistent_container_stopped(store: SessionStore) -> None:
    target = container(persistent=True)
    stored(store, target)
    backend = FakeBackend(store)
    outcome = end_session(backend, store, target, End.SHUTDOWN, timeout=5)
    assert outcome.action == "stopped"
    assert backend.names("delete") == []


def test_a_clean_stop_that_times_out_is_forced(store: SessionStore) -> None:
    target = container()
    backend = FakeBackend(store, stop_times_out=True)
    outcome = end_session(backend, store, target, End.SHUTDOWN, timeout=1)
    stops = [c for c in backend.calls if c[0] == "stop"]
    assert stops == [("stop", target.name, "clean 1s"), ("stop", target.name, "force")]
    assert outcome.action == "deleted"
    assert any("forced" in note for note in outcome.notes)


def test_a_failed_save_while_running_is_retried_from_the_stopped_container(
        store: SessionStore) -> None:
    target = container()
    backend = FakeBackend(store, save_fails=1)
    outcome = end_session(backend, store, target, End.SHUTDOWN, timeout=5)
    assert [c[0] for c in backend.calls] == ["dismiss", "save", "stop", "save", "delete"]
    assert outcome.action == "deleted" and outcome.saved


def test_a_container_whose_save_failed_is_never_deleted(store: SessionStore) -> None:
    target = container()
    stored(store, target)
    backend = FakeBackend(store, save_fails=-1)
    outcome = end_session(backend, store, target, End.SHUTDOWN, timeout=5)
    assert outcome.failed and not outcome.saved
    assert "not saved" in (outcome.error or "") and "disk full" in (outcome.error or "")
    assert backend.names("delete") == []
    assert backend.names("stop") == [target.name]  # stopped, kept for a later retry
    assert not store.load("dummy", target.session_id or "").ended


def test_kill_stops_at_once_then_saves_from_the_stopped_container(store: SessionStore) -> None:
    target = container()
    stored(store, target)
    backend = FakeBackend(store)
    outcome = end_session(backend, store, target, End.KILL, timeout=0)
    assert backend.calls == [("dismiss", target.name, "kill"), ("stop", target.name, "force"),
                             ("save", target.name), ("delete", target.name)]
    assert outcome.action == "deleted"
    assert store.load("dummy", target.session_id or "").end_reason == "killed"


def test_a_frozen_container_is_not_run_in_but_stopped_at_once(store: SessionStore) -> None:
    target = container(status="Frozen")
    backend = FakeBackend(store)
    end_session(backend, store, target, End.SHUTDOWN, timeout=60)
    assert [c[0] for c in backend.calls] == ["dismiss", "stop", "save", "delete"]
    assert backend.calls[1][2] == "force"


def test_an_orphan_has_no_supervisor_to_dismiss(store: SessionStore) -> None:
    target = container()
    backend = FakeBackend(store)
    end_session(backend, store, target, End.ORPHAN, timeout=60)
    assert [c[0] for c in backend.calls] == ["save", "reclaim", "stop", "delete"]
    assert store.load("dummy", target.session_id or "").end_reason == "orphaned"


def test_a_stopped_container_is_saved_without_being_stopped(store: SessionStore) -> None:
    target = container(status="Stopped")
    backend = FakeBackend(store)
    assert end_session(backend, store, target, End.SHUTDOWN, timeout=60).action == "deleted"
    assert [c[0] for c in backend.calls] == ["save", "delete"]


def test_a_container_its_supervisor_removed_meanwhile_counts_as_done(
        store: SessionStore) -> None:
    target = container()
    backend = FakeBackend(store, gone=True)
    outcome = end_session(backend, store, target, End.SHUTDOWN, timeout=5)
    assert outcome.action == "deleted" and outcome.saved
    assert any("meanwhile" in note for note in outcome.notes)


def test_a_failed_delete_is_reported_with_the_session_saved(store: SessionStore) -> None:
    outcome = end_session(FakeBackend(store, delete_fails=True), store, container(),
                          End.KILL, timeout=0)
    assert outcome.failed and outcome.saved and "storage busy" in (outcome.error or "")


def test_a_container_without_a_session_has_nothing_to_save(store: SessionStore) -> None:
    target = container(session_id=None, tool=None)
    backend = FakeBackend(store)
    outcome = end_session(backend, store, target, End.KILL, timeout=0)
    assert backend.names("save") == [] and outcome.action == "deleted"


def test_an_unrecorded_session_is_rebuilt_from_the_container_keys(store: SessionStore) -> None:
    target = container()
    end_session(FakeBackend(store), store, target, End.SHUTDOWN, timeout=5)
    record = store.load("dummy", target.session_id or "")
    assert (record.container, record.workspace, record.end_reason) == (
        target.name, "/ws", "shutdown")


def test_an_earlier_end_is_kept(store: SessionStore) -> None:
    target = container(status="Stopped")
    stored(store, target, ended_at="2026-01-01T00:00:00+00:00", end_reason="exit")
    end_session(FakeBackend(store), store, target, End.SHUTDOWN, timeout=5)
    assert store.load("dummy", target.session_id or "").end_reason == "exit"


def test_persist_sets_the_key_and_the_record(store: SessionStore) -> None:
    target = container()
    stored(store, target)
    backend = FakeBackend(store)
    assert persist(backend, store, target).action == "persisted"
    assert backend.calls == [("persist", target.name)]
    assert store.load("dummy", target.session_id or "").persistent


def test_persist_of_a_persistent_container_changes_nothing(store: SessionStore) -> None:
    backend = FakeBackend(store)
    assert persist(backend, store, container(persistent=True)).action == "unchanged"
    assert backend.calls == []


def test_confirm_refuses_to_ask_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    with pytest.raises(UsageError, match="without a terminal") as exc:
        confirm("Clean these up?", force=False)
    assert "--force" in str(exc.value)
    assert confirm("Clean these up?", force=True)


def test_outcome_text_says_what_happened() -> None:
    assert outcome_text(Outcome("c-1", "deleted", "s", True)) == (
        "c-1: session saved, container deleted")
    assert outcome_text(Outcome("c-1", "stopped", "s", True, notes=("forced",))) == (
        "c-1: session saved, container kept, stopped (persistent)\n  note: forced")
    assert outcome_text(Outcome("c-1", "failed", "s", False, "disk full")) == (
        "c-1: FAILED: disk full")
