"""Leftover files in ~/.coi: found only when no process holds them, removed safely."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from coi.session.orphans import find_orphan_files, remove_orphan_files, repair_staging
from coi.session.store import SessionStore
from coi.state import file_lock
from tests.unit.test_lifecycle_fakes import container, store_at, stored


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return store_at(tmp_path)


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def names(store: SessionStore, alive: Iterable[str] = (),
          hashes: Iterable[str] = ()) -> list[str]:
    return [f.path.name for f in find_orphan_files(store, set(alive), set(hashes))]


def test_free_run_state_is_orphaned_held_or_alive_is_not(store: SessionStore) -> None:
    run = store.root / "run"
    for name in ("coi-dead0000-1", "coi-live0000-1", "coi-held0000-1"):
        touch(run / f"{name}.json", "{}")
        touch(run / f"{name}.lock")
    with file_lock(run / "coi-held0000-1.lock"):
        found = names(store, alive={"coi-live0000-1"})
    assert found == ["coi-dead0000-1.json", "coi-dead0000-1.lock"]


def test_locks_of_gone_sessions_and_empty_workspaces(store: SessionStore) -> None:
    kept = container("coi-0123abcd-1")
    stored(store, kept)
    locks = store.root / "locks"
    live_session = touch(locks / f"session-dummy-{kept.session_id}.lock")
    touch(locks / "session-dummy-00000000-gone.lock")
    touch(locks / "workspace-0123abcd.lock")  # still has a container
    touch(locks / "workspace-89abcdef.lock")
    touch(locks / "image-coi.lock")  # not ours to judge
    found = names(store, hashes={"0123abcd"})
    assert found == ["session-dummy-00000000-gone.lock", "workspace-89abcdef.lock"]
    assert live_session.exists()


def test_removing_lock_files_takes_them_first(store: SessionStore) -> None:
    lock = touch(store.root / "locks" / "workspace-89abcdef.lock")
    files = find_orphan_files(store, set(), set())
    with file_lock(lock, timeout=1):  # someone took it between plan and removal
        assert remove_orphan_files(files, store) == []
    assert lock.exists()
    assert [f.path for f in remove_orphan_files(files, store)] == [lock]
    assert not lock.exists()


def test_a_waiter_on_a_removed_lock_file_locks_the_new_file(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    got: list[float] = []
    holder = file_lock(lock)
    holder.__enter__()

    def wait() -> None:
        with file_lock(lock, timeout=5):
            got.append(time.monotonic())

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    lock.unlink()  # removed while held (as `coi clean` does)
    with file_lock(lock, timeout=1):  # a newcomer creates and takes the new file
        holder.__exit__(None, None, None)
        time.sleep(0.4)
        assert got == []  # the waiter did not take the dead file's lock
        released = time.monotonic()
    waiter.join(5)
    assert got and got[0] >= released


def session_dir(store: SessionStore) -> Path:
    target = container()
    stored(store, target)
    return store.session_dir("dummy", target.session_id or "")


def test_staging_left_by_a_crashed_pull_is_dropped(store: SessionStore) -> None:
    directory = session_dir(store)
    touch(directory / "state" / "good", "1")
    touch(directory / "state.new" / "partial", "2")
    assert [f.kind for f in find_orphan_files(store, set(), set())] == ["staging"]
    repair_staging(store, directory)
    assert sorted(p.name for p in directory.iterdir()) == ["metadata.json", "state"]
    assert (directory / "state" / "good").exists()


def test_a_crash_between_the_renames_keeps_the_new_complete_state(store: SessionStore) -> None:
    directory = session_dir(store)
    touch(directory / "state.old" / "previous", "1")
    touch(directory / "state.new" / "complete", "2")
    repair_staging(store, directory)
    assert [p.name for p in (directory / "state").iterdir()] == ["complete"]
    assert not (directory / "state.old").exists()


def test_an_old_copy_alone_comes_back(store: SessionStore) -> None:
    directory = session_dir(store)
    touch(directory / "state.old" / "previous", "1")
    repair_staging(store, directory)
    assert [p.name for p in (directory / "state").iterdir()] == ["previous"]


def test_staging_of_a_save_in_progress_is_left_alone(store: SessionStore) -> None:
    directory = session_dir(store)
    staging = touch(directory / "state.new" / "partial")
    files = find_orphan_files(store, set(), set())
    with store.lock("dummy", directory.name):
        assert remove_orphan_files(files, store) == []
    assert staging.exists()
