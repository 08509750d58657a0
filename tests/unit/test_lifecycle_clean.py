"""`coi clean`: which containers go and which stay, and that a failed save keeps one."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from coi.session.listing import SessionContainer
from coi.session.store import SessionStore
from coi.session.sweep import CleanOptions, Decision, decide, execute, plan_clean
from tests.unit.test_lifecycle_fakes import FakeBackend, container, store_at, stored

EPHEMERAL_STOPPED = "coi-0123abcd-1"
PERSISTENT_STOPPED = "coi-0123abcd-2"
ORPHAN = "coi-0123abcd-3"
SUPERVISED = "coi-0123abcd-4"
PERSISTENT_ORPHAN = "coi-0123abcd-5"
FOREIGN_RUNNING = "coi-0123abcd-6"
FOREIGN_STOPPED = "coi-0123abcd-7"

World = tuple[list[SessionContainer], FakeBackend]


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return store_at(tmp_path)


@pytest.fixture
def world(store: SessionStore) -> World:
    ours = [container(EPHEMERAL_STOPPED, "Stopped"),
            container(PERSISTENT_STOPPED, "Stopped", persistent=True),
            container(ORPHAN, "Running"), container(SUPERVISED, "Running"),
            container(PERSISTENT_ORPHAN, "Running", persistent=True)]
    for target in ours:
        stored(store, target)
    # Sessions not in this user's store: started by someone else (or their record is gone).
    foreign = [container(FOREIGN_RUNNING, "Running"), container(FOREIGN_STOPPED, "Stopped")]
    backend = FakeBackend(store, busy={SUPERVISED})
    return ours + foreign, backend


def actions(decisions: Iterable[Decision]) -> dict[str, str]:
    return {d.container.name: d.action for d in decisions}


def test_default_plan(store: SessionStore, world: World) -> None:
    containers, backend = world
    plan = plan_clean(containers, store, backend.in_use, CleanOptions())
    assert actions(plan.containers) == {
        EPHEMERAL_STOPPED: "remove", PERSISTENT_STOPPED: "keep", ORPHAN: "remove",
        SUPERVISED: "keep", PERSISTENT_ORPHAN: "stop", FOREIGN_RUNNING: "keep",
        FOREIGN_STOPPED: "keep",
    }
    assert plan.sessions == ()


def test_all_adds_persistent_and_foreign_stopped_but_never_foreign_running(
        store: SessionStore, world: World) -> None:
    containers, backend = world
    plan = plan_clean(containers, store, backend.in_use, CleanOptions(everything=True))
    got = actions(plan.containers)
    assert got[PERSISTENT_STOPPED] == got[PERSISTENT_ORPHAN] == got[FOREIGN_STOPPED] == "remove"
    assert got[SUPERVISED] == got[FOREIGN_RUNNING] == "keep"


def test_a_busy_container_is_kept() -> None:
    decision = decide(container(status="Stopping"), True, lambda: False, True)
    assert decision.action == "keep" and "Stopping" in decision.reason


def test_execute_saves_before_removing_and_keeps_what_failed(
        store: SessionStore, world: World) -> None:
    containers, backend = world
    plan = plan_clean(containers, store, backend.in_use, CleanOptions())
    report = execute(plan, backend, store, backend.in_use, timeout=5)
    assert {o.container: o.action for o in report.outcomes} == {
        EPHEMERAL_STOPPED: "deleted", ORPHAN: "deleted", PERSISTENT_ORPHAN: "stopped"}
    for name in (EPHEMERAL_STOPPED, ORPHAN):
        assert backend.names("save").index(name) >= 0
        assert backend.calls.index(("delete", name)) > backend.calls.index(("save", name))
    orphan = next(c for c in containers if c.name == ORPHAN)
    assert store.load("dummy", orphan.session_id or "").end_reason == "orphaned"


def test_a_failed_save_keeps_the_container(
        store: SessionStore, world: World) -> None:
    containers, backend = world
    backend.save_fails = -1
    plan = plan_clean(containers, store, backend.in_use, CleanOptions())
    report = execute(plan, backend, store, backend.in_use, timeout=5)
    assert backend.names("delete") == []
    assert {o.container for o in report.failures} == {EPHEMERAL_STOPPED, ORPHAN,
                                                      PERSISTENT_ORPHAN}


def test_an_orphan_taken_over_meanwhile_is_left_alone(
        store: SessionStore, world: World) -> None:
    containers, backend = world
    plan = plan_clean(containers, store, backend.in_use, CleanOptions())
    backend.busy.add(ORPHAN)  # e.g. `coi attach` started a new supervisor
    report = execute(plan, backend, store, backend.in_use, timeout=5)
    assert ORPHAN not in backend.names("stop") + backend.names("delete")
    assert {o.container: o.action for o in report.outcomes}[ORPHAN] == "unchanged"


def test_sessions_are_deleted_only_when_their_container_goes(
        store: SessionStore, world: World) -> None:
    containers, backend = world
    gone = container("coi-89abcdef-1", "Stopped", workspace="/other")
    old = stored(store, gone)  # its container no longer exists
    plan = plan_clean(containers, store, backend.in_use, CleanOptions(sessions=True))
    doomed = {r.container for r in plan.sessions}
    assert doomed == {EPHEMERAL_STOPPED, ORPHAN, old.container}
    execute(plan, backend, store, backend.in_use, timeout=5)
    assert {r.container for r in store.all()} == {PERSISTENT_STOPPED, SUPERVISED,
                                                   PERSISTENT_ORPHAN}


def test_run_state_of_ended_containers_goes_with_them(store: SessionStore) -> None:
    orphan = container(ORPHAN, "Running")
    stored(store, orphan)
    run = store.root / "run"
    run.mkdir()
    (run / f"{ORPHAN}.json").write_text("{}")
    (run / f"{ORPHAN}.lock").write_text("")
    backend = FakeBackend(store)
    plan = plan_clean([orphan], store, backend.in_use, CleanOptions())
    assert sorted(f.path.name for f in plan.files) == [f"{ORPHAN}.json", f"{ORPHAN}.lock"]
    report = execute(plan, backend, store, backend.in_use, timeout=5)
    assert len(report.files_removed) == 2 and list(run.iterdir()) == []


def test_run_state_of_a_container_that_failed_is_kept(store: SessionStore) -> None:
    orphan = container(ORPHAN, "Running")
    stored(store, orphan)
    (store.root / "run").mkdir()
    (store.root / "run" / f"{ORPHAN}.json").write_text("{}")
    backend = FakeBackend(store, save_fails=-1)
    plan = plan_clean([orphan], store, backend.in_use, CleanOptions())
    execute(plan, backend, store, backend.in_use, timeout=5)
    assert (store.root / "run" / f"{ORPHAN}.json").exists()


def test_the_session_of_a_container_that_could_not_be_cleaned_is_kept(
        store: SessionStore) -> None:
    orphan = container(ORPHAN, "Running")
    record = stored(store, orphan)
    backend = FakeBackend(store, save_fails=-1)
    plan = plan_clean([orphan], store, backend.in_use, CleanOptions(sessions=True))
    assert [r.session_id for r in plan.sessions] == [record.session_id]
    report = execute(plan, backend, store, backend.in_use, timeout=5)
    assert report.sessions_skipped == [record.session_id]
    assert store.load("dummy", record.session_id).session_id == record.session_id


def test_a_deleted_session_takes_its_lock_file_along(store: SessionStore) -> None:
    gone = container("coi-89abcdef-1", "Stopped")
    record = stored(store, gone)
    with store.lock("dummy", record.session_id):
        pass
    assert store.lock_path("dummy", record.session_id).exists()
    backend = FakeBackend(store)
    plan = plan_clean([], store, backend.in_use, CleanOptions(sessions=True))
    execute(plan, backend, store, backend.in_use, timeout=5)
    assert store.all() == []
    assert not store.lock_path("dummy", record.session_id).exists()
