"""Closing a session from inside coi: save, hand files back, delete or stop, mark ended.

Used by the supervisor when the tmux session ends or the container stops, and by `coi
shell`/`coi run` when they are interrupted while setting up. The order is the rule:
the session's data is saved before the container may go; if saving fails the container
is kept (stopped), so nothing is lost and `coi shutdown`/`coi clean` can try again.
Once the container is stopped or gone, its isolation is released (network rules removed,
protected-path mounts undone), never before.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import CoiError, IncusError, NotFound
from coi.session.ownership import reclaim_workspace
from coi.session.save import save_state

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.record import SessionRecord
    from coi.session.store import SessionStore


@dataclass
class Closed:
    record: SessionRecord
    action: str  # "deleted", "stopped", "kept" (saving failed), "gone"
    reclaimed: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CloseOptions:
    code_uid: int = 1000
    home: str = "/home/code"
    shutdown_timeout: int = 60
    save_attempts: int = 3
    coi_home: Path | None = None  # given: release the container's isolation at the end
    # False: a stopped container is not started to hand files back (the monitor killed
    # it: nothing in it may run again).
    start_for_reclaim: bool = True


def close_session(client: Client, store: SessionStore, record: SessionRecord, *,
                  running: bool, reason: str = "exit",
                  options: CloseOptions = CloseOptions()) -> Closed:
    """End `record`'s session whose container is `running` (or stopped)."""
    closed = _close(client, store, record, running=running, reason=reason, options=options)
    if options.coi_home is not None:
        from coi.session.isolation import release

        closed.notes += release(options.coi_home, record.container)
    return closed


def _close(client: Client, store: SessionStore, record: SessionRecord, *, running: bool,
           reason: str, options: CloseOptions) -> Closed:
    try:
        saved = _save(client, store, record, options.save_attempts)
    except NotFound:
        return Closed(mark_ended(store, record, reason), "gone")
    except CoiError as exc:
        _stop(client, record.container, force=True, timeout=0)
        return Closed(record, "kept", notes=[f"session data not saved ({exc}); "
                                             "container kept, stopped"])
    closed = Closed(saved, "")
    closed.reclaimed = _reclaim(client, saved.container, running, options, closed.notes)
    closed.action = _dispose(client, saved, options.shutdown_timeout, closed.notes)
    closed.record = mark_ended(store, saved, reason)
    return closed


def _save(client: Client, store: SessionStore, record: SessionRecord,
          attempts: int) -> SessionRecord:
    for attempt in range(1, attempts + 1):
        try:
            return save_state(client, store, record)
        except NotFound:
            raise
        except (CoiError, OSError) as exc:
            if attempt == attempts:
                raise CoiError(str(exc)) from exc
            time.sleep(attempt)
    raise AssertionError("unreachable")


def _reclaim(client: Client, container: str, running: bool, options: CloseOptions,
             notes: list[str]) -> int:
    """Hand files back. A stopped container is started for it (exec needs a running
    one): files `sudo` made must not stay with an anonymous host uid. A container that
    stops meanwhile (a poweroff under way) is waited for and started once more."""
    if not running and not options.start_for_reclaim:
        notes.append("workspace files were not handed back (the container is not started "
                      "again after a threat): files made as root inside keep their "
                      "anonymous host owner")
        return 0
    for attempt in (1, 2):
        try:
            if not running or attempt == 2:
                _start_when_stopped(client, container)
            return reclaim_workspace(client, container, options.code_uid)
        except CoiError as exc:
            if attempt == 2 or _status(client, container) == "Running":
                notes.append(f"workspace files not handed back: {exc}")
                return 0
    return 0


def _status(client: Client, container: str) -> str:
    from coi.incus import instances

    try:
        return instances.get(client, container).status
    except NotFound:
        return "Gone"


def _start_when_stopped(client: Client, container: str, timeout: float = 120.0) -> None:
    from coi.incus import instances

    deadline = time.monotonic() + timeout
    while (status := _status(client, container)) not in ("Stopped", "Running"):
        if status == "Gone" or time.monotonic() > deadline:
            raise CoiError(f"{container} is {status.lower()}; cannot start it")
        time.sleep(0.2)
    if status == "Stopped":
        instances.start(client, container, timeout=60)


def _dispose(client: Client, record: SessionRecord, timeout: int, notes: list[str]) -> str:
    from coi.incus import instances

    if not record.persistent:
        instances.delete(client, record.container, force=True, missing_ok=True)
        return "deleted"
    if not stop_container(client, record.container, timeout=timeout):
        notes.append(f"did not stop within {timeout}s: forced")
    return "stopped"


def stop_container(client: Client, container: str, *, timeout: int) -> bool:
    """Stop cleanly within `timeout` seconds, else by force; False when forced."""
    try:
        _stop(client, container, force=False, timeout=timeout)
        return True
    except IncusError:
        _stop(client, container, force=True, timeout=0)
        return False


def _stop(client: Client, container: str, *, force: bool, timeout: int) -> None:
    from coi.incus import instances

    try:
        instances.stop(client, container, force=force, timeout=timeout)
    except NotFound:
        return
    except IncusError as exc:
        if exc.status_code != 400:  # 400: it is not running, which is what we want
            raise


def mark_ended(store: SessionStore, record: SessionRecord, reason: str) -> SessionRecord:
    """Record the end, unless another coi process (`coi shutdown`, `coi kill`) did."""
    with contextlib.suppress(NotFound):
        record = store.load(record.tool, record.session_id)
    if record.ended:
        return record
    ended = record.finished(reason)
    store.write(ended)
    return ended
