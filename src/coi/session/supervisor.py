"""The per-session supervisor: a detached process that watches the session until it ends.

`coi shell` starts it (`coi _supervise …`) once the tool runs in tmux, and hands it the
run lock (coi.session.runlock) it took when it created the container: `is_supervised`
means "that lock is held". The supervisor lives in its own session (setsid, then a second
fork), so killing `coi shell` or closing its terminal does not touch it. It

- watches the container from the host for threats (coi.session.sentry: the monitor's
  polls, exec and network events, firewall changes) and responds per `[monitoring]`:
  pause on HIGH, kill on CRITICAL (then saves, marks the session and ends it);
- keeps coi's nftables rules for the session intact: a change to them is repaired, or
  the container paused when that fails;
- saves the tool's state every `save_interval` seconds;
- in allowlist mode (or with a proxy hostname) re-resolves the hostnames every
  `network.refresh_interval_minutes`;
- waits, without polling, for the tmux session to end or the container to stop
  (coi.session.watch), or for `--limit-duration` to run out (end reason "time-limit"),
- then saves, hands workspace files back, deletes the ephemeral container or stops the
  persistent one, releases its isolation (rules, protected-path mounts), marks the
  session ended (coi.session.closing) and exits.

Saves, refreshes and firewall checks run in short-lived child processes
(coi.session.tasks): the supervisor itself stays small, one per session.

It logs to `~/.coi/logs/supervisor-<container>.log` and keeps its run state in
`~/.coi/run/<container>.json`. On SIGTERM it saves once and exits, leaving the container
running (`coi clean` then sees it as orphaned and ends it properly).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coi.errors import CoiTimeout, NotFound
from coi.session import runlock
from coi.session.paths import CODE_HOME, run_state_path
from coi.session.record import now_iso
from coi.session.runlock import is_supervised
from coi.session.store import SessionStore
from coi.state import Owner, file_lock, process_start_time, write_record

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.record import SessionRecord
    from coi.session.sentry import Outcome

__all__ = ["SupervisorSpec", "is_supervised", "supervise"]

log = logging.getLogger("coi.supervisor")
RUN_STATE_SCHEMA = 1
GRACE_SECONDS = 2.0  # for another coi process that stopped the container to finish
TASK_TIMEOUT = 600.0


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
    network: str = ""  # coi.session.isolation.network_spec: what to refresh and guard
    duration: float = 0.0  # seconds the session may run (--limit-duration); 0: no limit
    monitor: str = ""  # coi.monitor.engine.Settings as JSON; "": monitoring off

    def close_options(self, *, start_for_reclaim: bool = True) -> Any:
        from coi.session.closing import CloseOptions

        return CloseOptions(code_uid=self.code_uid, home=self.home,
                            shutdown_timeout=self.shutdown_timeout, coi_home=self.coi_home,
                            start_for_reclaim=start_for_reclaim)

    def to_json(self) -> str:
        data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SupervisorSpec:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("coi_home", "log_path"):
            values[key] = Path(values[key])
        if values.get("owner") is not None:
            values["owner"] = tuple(values["owner"])
        return cls(**values)


class _Terminated(BaseException):
    """SIGTERM: save and exit, leaving the session running. (A BaseException, so the
    loop's guard against unexpected errors never swallows it.)"""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def supervise(spec: SupervisorSpec, ready: object = None, lock_fd: int | None = None) -> str:
    """The supervisor's life, in the detached process. Returns how it ended (for the log).
    `ready`, when callable, is called once the run state is written; `lock_fd` is the run
    lock it was handed, removed once the session is closed."""
    from coi.incus import connect
    from coi.session.sentry import Sentry

    store = SessionStore(spec.coi_home, spec.owner)
    record = store.load(spec.tool, spec.session_id)
    signal.signal(signal.SIGTERM, _on_sigterm)
    with connect(spec.remote or None, spec.project) as client:
        write_run_state(spec, last_save=None)
        if callable(ready):
            ready()
        try:
            outcome = Sentry(client, spec, store).run()
        except _Terminated:
            log.info("terminated: saving once, leaving %s running", spec.container)
            run_task(spec, "save")
            return "terminated"
        finally:
            run_state_path(spec.coi_home, spec.container).unlink(missing_ok=True)
        result = _close(client, spec, store, store.load(record.tool, record.session_id),
                        outcome)
    if lock_fd is not None:
        runlock.release_for(lock_fd, spec.coi_home, spec.container)
    return result


# -- child tasks ----------------------------------------------------------------------


def task_argv(spec: SupervisorSpec, job: str) -> list[str]:
    return [sys.executable, "-m", "coi.session.tasks", job, spec.to_json()]


def start_task(spec: SupervisorSpec, job: str) -> subprocess.Popen[bytes]:
    """Start a job of coi.session.tasks; its stderr goes to the supervisor's log."""
    return subprocess.Popen(task_argv(spec, job), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=None, cwd="/")


def run_task(spec: SupervisorSpec, job: str, timeout: float = TASK_TIMEOUT) -> bool:
    """Run a job to its end; True when it succeeded."""
    try:
        done = subprocess.run(task_argv(spec, job), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, timeout=timeout, cwd="/", check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s failed: %s", job, exc)
        return False
    if done.returncode != 0:
        log.warning("%s failed (exit %d)", job, done.returncode)
    return done.returncode == 0


# -- the end ----------------------------------------------------------------------------


def _close(client: Client, spec: SupervisorSpec, store: SessionStore,
           record: SessionRecord, outcome: Outcome) -> str:
    from coi.session.closing import close_session
    from coi.session.watch import Ending, container_status

    if outcome.threat is not None:
        return _close_threat(client, spec, store, record)
    ending = outcome.ending
    log.info("%s: %s", spec.container, ending.value if ending else "time limit")
    running = container_status(client, spec.container) in ("Running", "Frozen")
    if ending is Ending.GONE or not running:
        if _ended_by_coi(store, record):
            log.info("ended by another coi process (coi shutdown/kill/clean); nothing to do")
            return "ended elsewhere"
        if container_status(client, spec.container) == "Gone":
            return _gone(spec, store, record)
    reason = "time-limit" if ending is None else "exit"
    closed = close_session(client, store, record, running=running, reason=reason,
                           options=spec.close_options())
    log.info("closed: container %s, %d workspace file(s) handed back%s", closed.action,
             closed.reclaimed, "".join(f"; {note}" for note in closed.notes))
    return closed.action


def _close_threat(client: Client, spec: SupervisorSpec, store: SessionStore,
                  record: SessionRecord) -> str:
    """The monitor killed the container: save what the tool had from the stopped
    container (file API, nothing runs in it again), then end the session. The container
    is not started again to hand files back: whatever the threat left must not run."""
    from coi.session.closing import close_session

    closed = close_session(client, store, record, running=False, reason="threat",
                           options=spec.close_options(start_for_reclaim=False))
    log.info("killed by the monitor: session %s saved (%s), container %s%s",
             record.session_id, closed.record.saved_at or "nothing to save", closed.action,
             "".join(f"; {note}" for note in closed.notes))
    return f"killed by the monitor ({closed.action})"


def _ended_by_coi(store: SessionStore, record: SessionRecord) -> bool:
    """Whether another coi process ends, or has ended, the session (rather than a
    poweroff inside, or someone deleting the container behind coi's back): it is saving
    it right now (the session lock is busy), or has marked the session ended."""
    try:
        with file_lock(store.lock_path(record.tool, record.session_id), timeout=0):
            pass
    except CoiTimeout:
        return True
    time.sleep(GRACE_SECONDS)
    try:
        return store.load(record.tool, record.session_id).ended
    except NotFound:
        return False


def _gone(spec: SupervisorSpec, store: SessionStore, record: SessionRecord) -> str:
    """The container was deleted outside coi (`incus delete`): its rules and
    protected-path mounts go now, not at the next `coi clean`; the session keeps its
    last periodic save."""
    from coi.session.closing import mark_ended
    from coi.session.isolation import release

    notes = release(spec.coi_home, spec.container)
    mark_ended(store, record, "interrupted")
    log.warning("%s was deleted outside coi: isolation released, session %s ended with "
                "its last save%s", spec.container, record.session_id,
                "".join(f"; {note}" for note in notes))
    return "gone"


def write_run_state(spec: SupervisorSpec, last_save: str | None,
                    **extra: object) -> None:
    state = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(spec).items()}
    state.update(pid=os.getpid(), started=process_start_time(os.getpid()),
                 updated_at=now_iso(), last_save_at=last_save, **extra)
    write_record(run_state_path(spec.coi_home, spec.container), state, RUN_STATE_SCHEMA,
                 owner=spec.owner)

