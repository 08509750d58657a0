"""Leftover files in ~/.coi that no coi process owns any more (found by `coi clean`).

- run/<container>.json and run/<container>.lock: a supervisor's run state, once nobody
  holds the lock (the supervisor died) and the container will not be running;
- locks/session-<tool>-<id>.lock of a session that no longer exists, and
  locks/workspace-<hash>.lock of a workspace with no container left, when free;
- sessions-<tool>/<id>/state.new (or state.old) left by a save that crashed: repaired,
  so the newest complete copy of the state becomes `state`.
A lock file is only removed while we hold it, and `coi.state.file_lock` re-checks that
the file it locked is still the one at its path, so removing one never breaks a waiter.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import CoiTimeout
from coi.session.store import STATE
from coi.state import file_lock

if TYPE_CHECKING:
    from coi.session.store import SessionStore

SESSION_LOCK = re.compile(r"session-(?P<tool>[a-z0-9]+)-(?P<id>.+)\.lock")
WORKSPACE_LOCK = re.compile(r"workspace-(?P<hash>[0-9a-f]{8})\.lock")
STAGING = (STATE + ".new", STATE + ".old")


@dataclass(frozen=True)
class OrphanFile:
    path: Path
    kind: str  # "run-state", "lock" or "staging"

    def to_json(self) -> dict[str, str]:
        return {"path": str(self.path), "kind": self.kind}


def find_orphan_files(store: SessionStore, alive_after: set[str],
                      hashes_after: set[str]) -> list[OrphanFile]:
    """Leftovers, given the containers that will be running (`alive_after`) and the
    workspace hashes that will still have a container (`hashes_after`) after the clean."""
    run_dir = store.root / "run"
    stems = {p.stem for p in run_dir.glob("*") if p.suffix in (".json", ".lock")}
    return [*run_files(store, stems - alive_after), *_lock_files(store, hashes_after),
            *_staging_dirs(store)]


def run_files(store: SessionStore, containers: Iterable[str]) -> Iterator[OrphanFile]:
    """The run state of these containers whose supervisor is gone (lock free)."""
    run_dir = store.root / "run"
    for stem in sorted(set(containers)):
        lock = run_dir / f"{stem}.lock"
        if not _held(lock):
            for path in (run_dir / f"{stem}.json", lock):
                if path.exists():
                    yield OrphanFile(path, "run-state")


def _lock_files(store: SessionStore, hashes_after: set[str]) -> Iterator[OrphanFile]:
    lock_dir = store.root / "locks"
    if not lock_dir.is_dir():
        return
    for path in sorted(lock_dir.glob("*.lock")):
        if _lock_is_stale(store, path.name, hashes_after) and not _held(path):
            yield OrphanFile(path, "lock")


def _lock_is_stale(store: SessionStore, name: str, hashes_after: set[str]) -> bool:
    if match := SESSION_LOCK.fullmatch(name):
        with contextlib.suppress(Exception):
            directory = store.session_dir(match["tool"], match["id"])
            return not (directory / "metadata.json").exists()
        return False
    if match := WORKSPACE_LOCK.fullmatch(name):
        return match["hash"] not in hashes_after
    return False  # someone else's lock: leave it alone


def _staging_dirs(store: SessionStore) -> Iterator[OrphanFile]:
    for tool in store.tools():
        for name in STAGING:
            for path in sorted(store.tool_dir(tool).glob(f"*/{name}")):
                yield OrphanFile(path, "staging")


def _held(lock: Path) -> bool:
    if not lock.exists():
        return False
    try:
        with file_lock(lock, timeout=0):
            return False
    except CoiTimeout:
        return True


# -- removal ------------------------------------------------------------------------------


def remove_orphan_files(files: Iterable[OrphanFile], store: SessionStore) -> list[OrphanFile]:
    """Remove what is still orphaned now; returns what was removed."""
    removed = []
    for item in files:
        with contextlib.suppress(CoiTimeout, FileNotFoundError):
            if _remove(item, store):
                removed.append(item)
    return removed


def _remove(item: OrphanFile, store: SessionStore) -> bool:
    if item.kind == "staging":
        return repair_staging(store, item.path.parent)
    lock = item.path.with_suffix(".lock")
    with file_lock(lock, timeout=0):  # CoiTimeout: someone took it meanwhile
        if item.path != lock:
            os.unlink(item.path)
        elif item.path.exists():
            os.unlink(lock)  # while we hold it; waiters re-open the new file
    return True


def repair_staging(store: SessionStore, session_dir: Path) -> bool:
    """Finish or undo a save that crashed, under the session's lock."""
    tool = session_dir.parent.name.removeprefix("sessions-")
    with store.lock(tool, session_dir.name, timeout=0):
        state, new, old = (session_dir / n for n in (STATE, *STAGING))
        if not state.exists():
            # The crash came between the two renames of SessionStore.replace_state:
            # `state.new` is complete then (it is only swapped in once written).
            source = new if new.exists() and old.exists() else old
            if source.exists():
                os.rename(source, state)
        for leftover in (new, old):
            if leftover.exists():
                shutil.rmtree(leftover)
    return True
