"""The per-session supervisor: a detached process that makes sure no session data is lost.

`coi shell` starts it (`coi _supervise …`) once the tool runs in tmux, and hands it the
run lock (coi.session.runlock) it took when it created the container: `is_supervised`
means "that lock is held". The supervisor lives in its own session (setsid, then a second
fork), so killing `coi shell` or closing its terminal does not touch it. It

- saves the tool's state every `save_interval` seconds,
- in allowlist mode (or with a proxy hostname) re-resolves the hostnames every
  `network.refresh_interval_minutes` and swaps the container's rules if they changed,
- waits, without polling, for the tmux session to end or the container to stop
  (coi.session.watch), or for `--limit-duration` to run out (end reason "time-limit"),
- then saves, hands workspace files back, deletes the ephemeral container or stops the
  persistent one, releases its isolation (rules, protected-path mounts), marks the
  session ended (coi.session.closing) and exits.

It logs to `~/.coi/logs/supervisor-<container>.log` and keeps its run state in
`~/.coi/run/<container>.json`. On SIGTERM it saves once and exits, leaving the container
running (`coi clean` then sees it as orphaned and ends it properly).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import CoiError, CoiTimeout, NotFound
from coi.session import runlock
from coi.session.closing import CloseOptions, close_session
from coi.session.isolation import Refresher
from coi.session.paths import CODE_HOME, run_state_path
from coi.session.record import now_iso
from coi.session.runlock import is_supervised
from coi.session.save import save_state
from coi.session.store import SessionStore
from coi.session.watch import Ending, container_status, wait_for_end
from coi.state import Owner, file_lock, write_record

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.record import SessionRecord

__all__ = ["SupervisorSpec", "is_supervised", "supervise"]

log = logging.getLogger("coi.supervisor")
RUN_STATE_SCHEMA = 1
GRACE_SECONDS = 2.0  # for another coi process that stopped the container to finish


@dataclass(frozen=True)
class SupervisorSpec:
    """Everything the supervisor needs, passed on its command line (it reads no config:
    the session keeps the settings it was started with)."""

    container: str
    session_id: str
    tool: str
    coi_home: Path
    log_path: Path
    remote: str = ""
    project: str = "default"
    code_uid: int = 1000
    home: str = CODE_HOME
    save_interval: float = 300.0  # seconds between saves; 0: only at the end
    shutdown_timeout: int = 60
    owner: Owner | None = None
    network: str = ""  # coi.session.isolation.network_spec: what to refresh
    duration: float = 0.0  # seconds the session may run (--limit-duration); 0: no limit

    def close_options(self) -> CloseOptions:
        return CloseOptions(code_uid=self.code_uid, home=self.home,
                            shutdown_timeout=self.shutdown_timeout, coi_home=self.coi_home)


class _Terminated(Exception):
    """SIGTERM: save and exit, leaving the session running."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def supervise(spec: SupervisorSpec, ready: object = None, lock_fd: int | None = None) -> str:
    """The supervisor's life, in the detached process. Returns how it ended (for the log).
    `ready`, when callable, is called once the run state is written; `lock_fd` is the run
    lock it was handed, removed once the session is closed."""
    from coi.incus import connect

    store = SessionStore(spec.coi_home, spec.owner)
    record = store.load(spec.tool, spec.session_id)
    signal.signal(signal.SIGTERM, _on_sigterm)
    with connect(spec.remote or None, spec.project) as client:
        _write_state(spec, last_save=None)
        if callable(ready):
            ready()
        try:
            ending = _watch_and_save(client, spec, store, record)
        except _Terminated:
            log.info("terminated: saving once, leaving %s running", spec.container)
            _save(client, store, record, spec)
            return "terminated"
        finally:
            run_state_path(spec.coi_home, spec.container).unlink(missing_ok=True)
        outcome = _close(client, spec, store, record, ending)
    if lock_fd is not None:
        runlock.release_for(lock_fd, spec.coi_home, spec.container)
    return outcome


class Timer:
    """One periodic job: due every `period` seconds (None: never), from `start`."""

    def __init__(self, period: float | None, start: float) -> None:
        self.period = period if period and period > 0 else None
        self.due = start + self.period if self.period else float("inf")

    def fire(self, now: float) -> bool:
        if now < self.due or self.period is None:
            return False
        self.due = now + self.period
        return True


def _watch_and_save(client: Client, spec: SupervisorSpec, store: SessionStore,
                    record: SessionRecord) -> Ending | None:
    """How the session ended; None: its time limit ran out (it is still running)."""
    result: list[Ending] = []
    watcher = threading.Thread(target=_watch, args=(spec, result), daemon=True,
                               name="coi-watch")
    watcher.start()
    now = time.monotonic()
    deadline = now + spec.duration if spec.duration > 0 else float("inf")
    refresher = _refresher(spec)
    saves = Timer(spec.save_interval, now)
    refreshes = Timer(refresher.seconds if refresher else None, now)
    while True:
        wait = min(saves.due, refreshes.due, deadline) - time.monotonic()
        watcher.join(None if wait == float("inf") else max(0.0, wait))
        if not watcher.is_alive():
            break
        now = time.monotonic()
        if now >= deadline:
            log.info("the session's time limit (%.0f s) ran out", spec.duration)
            return None
        if refresher is not None and refreshes.fire(now):
            _refresh(client, refresher)
        if saves.fire(now):
            _save(client, store, record, spec)
    if not result:
        raise CoiError("the session watcher failed; see the log above")
    return result[0]


def _refresher(spec: SupervisorSpec) -> Refresher | None:
    try:
        return Refresher.from_spec(spec.network, spec.container, spec.project)
    except (CoiError, ValueError) as exc:
        log.warning("network refresh disabled: %s", exc)
        return None


def _refresh(client: Client, refresher: Refresher) -> None:
    try:
        for warning in refresher.tick(client):
            log.warning("network refresh: %s", warning)
    except (CoiError, OSError) as exc:
        log.warning("network refresh failed (the last rules stay): %s", exc)
        return
    log.info("network allowlist refreshed")


def _watch(spec: SupervisorSpec, result: list[Ending]) -> None:
    from coi.incus import connect

    try:
        with connect(spec.remote or None, spec.project) as client:
            result.append(wait_for_end(client, spec.container, spec.code_uid, spec.home))
    except BaseException:
        log.exception("watching %s failed", spec.container)


def _save(client: Client, store: SessionStore, record: SessionRecord,
          spec: SupervisorSpec) -> None:
    try:
        saved = save_state(client, store, record, home=spec.home)
    except (CoiError, OSError) as exc:
        log.warning("periodic save failed: %s", exc)
        return
    log.info("saved %s (state saved at %s)", record.session_id, saved.saved_at)
    _write_state(spec, last_save=now_iso())


def _close(client: Client, spec: SupervisorSpec, store: SessionStore,
           record: SessionRecord, ending: Ending | None) -> str:
    log.info("%s: %s", spec.container, ending.value if ending else "time limit")
    running = container_status(client, spec.container) in ("Running", "Frozen")
    if ending is Ending.GONE or (not running
                                 and _ended_elsewhere(client, spec, store, record)):
        log.info("ended by another coi process (coi shutdown/kill/clean); nothing to do")
        return "ended elsewhere"
    reason = "time-limit" if ending is None else "exit"
    closed = close_session(client, store, record, running=running, reason=reason,
                           options=spec.close_options())
    log.info("closed: container %s, %d workspace file(s) handed back%s", closed.action,
             closed.reclaimed, "".join(f"; {note}" for note in closed.notes))
    return closed.action


def _ended_elsewhere(client: Client, spec: SupervisorSpec, store: SessionStore,
                     record: SessionRecord) -> bool:
    """Whether a container that stopped was stopped by another coi process ending the
    session (rather than by a poweroff inside it): that process is saving it right
    now (the session lock is busy), or has deleted it or marked the session ended."""
    try:
        with file_lock(store.lock_path(record.tool, record.session_id), timeout=0):
            pass
    except CoiTimeout:
        return True
    time.sleep(GRACE_SECONDS)
    if container_status(client, spec.container) == "Gone":
        return True
    try:
        return store.load(record.tool, record.session_id).ended
    except NotFound:
        return False


def _write_state(spec: SupervisorSpec, last_save: str | None) -> None:
    state = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(spec).items()}
    state.update(pid=os.getpid(), updated_at=now_iso(), last_save_at=last_save)
    write_record(run_state_path(spec.coi_home, spec.container), state, RUN_STATE_SCHEMA,
                 owner=spec.owner)
