"""Ending sessions from outside: `coi shutdown`, `coi kill`, `coi persist` (and `coi clean`).

The rule everywhere: a session's data is saved before its container may go, and a
container whose save failed is never deleted (it is left stopped, and the failure
reported, so a later `coi shutdown`/`coi clean` can try again).

The daemon and the session runtime are reached through `Backend`, so this logic is
tested without a daemon; `coi.session.lifecycle_incus` is the real one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from coi.errors import CoiError, IncusError, NotFound, UsageError
from coi.session.record import SessionRecord, now_iso
from coi.session.store import check_session_id

if TYPE_CHECKING:
    from collections.abc import Sequence

    from coi.session.listing import SessionContainer
    from coi.session.store import SessionStore


class Backend(Protocol):
    """What ending a session needs from the daemon and the session runtime."""

    def save(self, record: SessionRecord) -> SessionRecord:
        """Pull the tool's state (running or stopped container) into the store."""

    def reclaim(self, container: str) -> int:
        """Give workspace files back to their owner (needs a running container)."""

    def stop(self, container: str, *, force: bool, timeout: int) -> None:
        """Stop cleanly within `timeout` seconds (IncusError if not), or kill with force."""

    def delete(self, container: str) -> None: ...

    def exists(self, container: str) -> bool: ...

    def set_persistent(self, container: str) -> None: ...

    def dismiss(self, container: str, *, kill: bool) -> bool:
        """Make the coi process looking after the container stand down (SIGTERM, or
        SIGKILL with `kill`), so it does not end the session at the same time."""


class End(Enum):
    """How a session is ended, and the reason recorded for it."""

    SHUTDOWN = "shutdown"  # save while running, reclaim files, stop cleanly (then force)
    KILL = "killed"  # stop at once, then save from the stopped container
    ORPHAN = "orphaned"  # as SHUTDOWN: `coi clean` found no coi process looking after it


@dataclass(frozen=True)
class Outcome:
    """What happened to one container. `action`: deleted, stopped (kept), persisted,
    unchanged, or failed (then `error` says why, and the container still exists)."""

    container: str
    action: str
    session_id: str | None = None
    saved: bool = False
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.action == "failed"

    def to_json(self) -> dict[str, Any]:
        return {"container": self.container, "action": self.action,
                "session_id": self.session_id, "saved": self.saved, "error": self.error,
                "notes": list(self.notes)}


def select(containers: Sequence[SessionContainer], names: Sequence[str],
           everything: bool) -> list[SessionContainer]:
    """The containers NAMES (or --all) mean; NotFound names every unknown one first."""
    if names and everything:
        raise UsageError("give container names or --all, not both")
    if not names and not everything:
        raise UsageError("no container names given",
                         hint="`coi list` shows the session containers; --all means every one")
    if everything:
        return list(containers)
    by_name = {c.name: c for c in containers}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise NotFound(f"no coi session container named {', '.join(missing)}",
                       hint="`coi list` shows the session containers")
    return [by_name[n] for n in dict.fromkeys(names)]


def session_record(store: SessionStore, target: SessionContainer) -> SessionRecord | None:
    """The container's session as stored, else rebuilt from its config keys; None when
    the container carries no session (nothing to save)."""
    if not target.session_id or not target.tool:
        return None
    with contextlib.suppress(NotFound, UsageError):
        return store.load(target.tool, target.session_id)
    try:
        check_session_id(target.session_id)
    except UsageError:
        return None  # a session ID we could not store anyway
    return SessionRecord(
        session_id=target.session_id, tool=target.tool, workspace=target.workspace,
        container=target.name, slot=target.slot, persistent=target.persistent,
        image=target.image, created_at=target.created_at or now_iso(),
    )


def has_stored_session(store: SessionStore, target: SessionContainer) -> bool:
    """Whether this user's store knows the container's session (so it is ours)."""
    if not target.session_id or not target.tool:
        return False
    try:
        path = store.session_dir(target.tool, target.session_id) / "metadata.json"
    except UsageError:
        return False
    return path.is_file()


@dataclass
class _Progress:
    saved: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def end_session(backend: Backend, store: SessionStore, target: SessionContainer, how: End,
                *, timeout: int, delete_persistent: bool = False) -> Outcome:
    """Save, stop, then delete (ephemeral) or keep stopped (persistent) one container."""
    record = session_record(store, target)
    done = _Progress()
    if how is not End.ORPHAN and target.alive:
        backend.dismiss(target.name, kill=how is End.KILL)
    try:
        _save_and_stop(backend, record, target, how, timeout=timeout, done=done)
    except NotFound:
        # Its own coi process (the supervisor) ended it meanwhile: it saves before it
        # deletes, so the session is safe.
        return Outcome(target.name, "deleted", target.session_id, done.saved, None,
                       (*done.notes, "ended by its own coi process meanwhile"))
    except CoiError as exc:
        return Outcome(target.name, "failed", target.session_id, done.saved, exc.message,
                       tuple(done.notes))
    if not done.saved:
        return Outcome(target.name, "failed", target.session_id, False,
                       f"session data not saved ({done.error}); container kept, stopped",
                       tuple(done.notes))
    if record is not None:
        _finish(store, record, how.value)
    return _dispose(backend, target, delete_persistent, tuple(done.notes))


def _save_and_stop(backend: Backend, record: SessionRecord | None, target: SessionContainer,
                   how: End, *, timeout: int, done: _Progress) -> None:
    if how is not End.KILL and target.running:
        done.saved, done.error = _save(backend, record, target.name)
        if done.saved:
            done.notes += _reclaim(backend, target.name)
        _stop_gracefully(backend, target.name, timeout, done.notes)
    elif not target.stopped:
        # Killed, or frozen (paused by the monitor): run nothing more inside it.
        backend.stop(target.name, force=True, timeout=0)
    if not done.saved:
        done.saved, done.error = _save(backend, record, target.name)  # from the stopped one


def _save(backend: Backend, record: SessionRecord | None,
          container: str) -> tuple[bool, str | None]:
    """(saved, error). A container without a session has nothing to save: that counts.
    NotFound passes through only when the container itself is gone."""
    if record is None:
        return True, None
    try:
        backend.save(record)
    except NotFound as exc:
        if not backend.exists(container):
            raise
        return False, str(exc)
    except (CoiError, OSError) as exc:
        return False, str(exc)
    return True, None


def _reclaim(backend: Backend, container: str) -> list[str]:
    try:
        backend.reclaim(container)
    except CoiError as exc:
        return [f"workspace files not handed back: {exc.message}"]
    return []


def _stop_gracefully(backend: Backend, container: str, timeout: int, notes: list[str]) -> None:
    try:
        backend.stop(container, force=False, timeout=timeout)
    except NotFound:
        raise
    except IncusError:
        notes.append(f"did not stop within {timeout}s: forced")
        backend.stop(container, force=True, timeout=0)


def _finish(store: SessionStore, fallback: SessionRecord, reason: str) -> None:
    """Mark the stored record ended (re-read under the lock: a save may have updated it).
    A session that ended already keeps its first end and reason."""
    with store.lock(fallback.tool, fallback.session_id):
        try:
            current = store.load(fallback.tool, fallback.session_id)
        except NotFound:
            current = fallback
        if not current.ended:
            store.write(current.finished(reason))


def _dispose(backend: Backend, target: SessionContainer, delete_persistent: bool,
             notes: tuple[str, ...]) -> Outcome:
    if target.persistent and not delete_persistent:
        return Outcome(target.name, "stopped", target.session_id, True, None, notes)
    try:
        backend.delete(target.name)
    except NotFound:
        pass  # its own coi process deleted it meanwhile
    except CoiError as exc:
        return Outcome(target.name, "failed", target.session_id, True,
                       f"saved, but not deleted: {exc.message}", notes)
    return Outcome(target.name, "deleted", target.session_id, True, None, notes)


def persist(backend: Backend, store: SessionStore, target: SessionContainer) -> Outcome:
    """Mark a session container persistent: on the container and in its record."""
    try:
        if not target.persistent:
            backend.set_persistent(target.name)
    except CoiError as exc:
        return Outcome(target.name, "failed", target.session_id, error=exc.message)
    if target.tool and target.session_id and has_stored_session(store, target):
        with store.lock(target.tool, target.session_id):
            record = store.load(target.tool, target.session_id)
            if not record.persistent:
                store.write(replace(record, persistent=True))
    return Outcome(target.name, "unchanged" if target.persistent else "persisted",
                   target.session_id)
