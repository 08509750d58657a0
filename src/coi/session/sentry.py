"""The supervisor's watch loop: one thread waits for the session's end, this loop does
everything else, woken by whichever comes first:

  - the end of the session (the watcher thread writes to a pipe),
  - a kernel event: a process exec'd (proc connector), a packet coi's rules logged
    (nflog), a change to nftables (netlink), each read only when it is there,
  - a timer: the monitor's poll, the periodic save, the allowlist refresh, the time limit.

Findings go to the responder (coi.monitor.respond), which writes the audit log and
pauses or kills the container (coi.session.watchman). A source that cannot be opened on
this host (not root, a kernel without it) is logged once and left out; `coi health`
says which ones work. Errors inside a poll are logged and the loop goes on: the
session must never lose its saves because monitoring failed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coi.errors import CoiError
from coi.session.watchman import IncusActions

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.monitor.findings import Finding
    from coi.session.store import SessionStore
    from coi.session.supervisor import SupervisorSpec
    from coi.session.watch import Ending
    from coi.session.watchman import Watchman

log = logging.getLogger("coi.supervisor")
GUARD_FALLBACK_SECONDS = 30.0  # firewall checks without nftables change events
GUARD_DEBOUNCE = 0.05  # a transaction's burst of change messages: one check
GUARD_RETRY_SECONDS = 0.5
STEP_ERROR_PAUSE = 0.5  # after an unexpected error, so a persistent one cannot spin
ROTATE_SECONDS = 6 * 3600.0
MONITOR_MARK = "user.coi.monitor"


@dataclass
class Outcome:
    """How the watch ended: the session's end (`ending`, None for the time limit), or
    the monitor killed the container (`threat`)."""

    ending: Ending | None = None
    threat: Finding | None = None


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

    def soon(self, now: float, delay: float) -> None:
        self.due = min(self.due, now + delay)


TMUX_SERVER = "tmux: server"  # the comm tmux gives its server process
END_CHECK_SECONDS = 0.5


def _network_config(spec: str) -> dict[str, Any]:
    """The `[network]` section out of the supervisor's network spec ({} without one)."""
    try:
        network = json.loads(spec)["network"] if spec else {}
    except (ValueError, KeyError, TypeError):
        return {}
    return network if isinstance(network, dict) else {}


@dataclass
class _Timers:
    deadline: float  # the time limit (--limit-duration)
    ends: Timer
    saves: Timer
    refreshes: Timer
    polls: Timer
    guards: Timer
    rotations: Timer

    def next_due(self) -> float:
        return min(self.deadline, self.ends.due, self.saves.due, self.refreshes.due,
                   self.polls.due, self.guards.due, self.rotations.due)


class HostWatch:
    """The session's end, seen from the host without any exec: the container's cgroup
    goes away (it stopped or was deleted), or its tmux server exits. The server exits
    when the session's tool does, unless something started another tmux session in
    the container; then this keeps waiting, like `tmux wait-for` would without its hook,
    until the container stops or someone ends the session."""

    def __init__(self, cgroup_dir: Path, proc_root: Path = Path("/proc")) -> None:
        self.cgroup_dir = cgroup_dir
        self.proc_root = proc_root
        self.server: int | None = None

    def changed(self) -> bool:
        """Whether the session may have ended (the caller asks Incus what happened)."""
        if not (self.cgroup_dir / "cgroup.procs").exists():
            return True
        if self.server is not None and self._comm(self.server) == TMUX_SERVER:
            return False
        self.server = self._find_server()
        return self.server is None

    def _find_server(self) -> int | None:
        from coi.monitor.cgroup import cgroup_pids

        for pid in cgroup_pids(self.cgroup_dir):
            if self._comm(pid) == TMUX_SERVER:
                return pid
        return None

    def _comm(self, pid: int) -> str:
        try:
            with open(f"{self.proc_root}/{pid}/comm", "rb") as handle:
                return handle.read().decode(errors="replace").strip()
        except OSError:
            return ""


class Sentry:
    def __init__(self, client: Client, spec: SupervisorSpec, store: SessionStore) -> None:
        self.client = client
        self.spec = spec
        self.store = store
        self.result: list[Ending] = []
        self.wake_r, self.wake_w = os.pipe()
        self.tasks: dict[str, subprocess.Popen[bytes]] = {}
        self.last_save: str | None = None
        self.network = _network_config(spec.network)
        self.watchman: Watchman | None = None
        self.timers: _Timers | None = None
        self.guard_failures = 0
        self.guard_wanted = False

    # -- the loop -------------------------------------------------------------------

    def run(self) -> Outcome:
        from coi.monitor.cgroup import find_payload_dir

        spec = self.spec
        cgroup = find_payload_dir(spec.container, spec.project)
        host_watch = HostWatch(cgroup) if cgroup is not None else None
        watcher = threading.Thread(target=self._watch, daemon=True, name="coi-watch")
        if host_watch is None:  # no cgroup to look at: a long exec tells instead
            watcher.start()
        self._start_monitor(cgroup)
        timers = self.timers = self._timers(time.monotonic(), host_watch is not None)
        try:
            while True:
                readable = self._wait(max(0.0, timers.next_due() - time.monotonic()))
                if self.wake_r in readable or (host_watch is None and not watcher.is_alive()):
                    break
                try:
                    outcome = self._step(readable, time.monotonic(), timers, host_watch)
                except Exception:  # a bug or a full disk must not end the supervision
                    log.exception("the supervisor's loop hit an error; it goes on")
                    time.sleep(STEP_ERROR_PAUSE)
                    continue
                if outcome is not None:
                    return outcome
        finally:
            if self.watchman is not None:
                self.watchman.close()
            self._finish_tasks()
            os.close(self.wake_r)
            if host_watch is not None:
                os.close(self.wake_w)  # no watcher thread owns it
        if not self.result:
            raise CoiError("the session watcher failed; see the log above")
        return Outcome(self.result[0])

    def _timers(self, now: float, host_watch: bool) -> _Timers:
        spec = self.spec
        settings = self.watchman.settings if self.watchman else None
        nft_events = self.watchman is not None and "nftwatch" in self.watchman.sources
        guard_period = GUARD_FALLBACK_SECONDS if self._guarding() and not nft_events else None
        return _Timers(
            deadline=now + spec.duration if spec.duration > 0 else float("inf"),
            ends=Timer(END_CHECK_SECONDS if host_watch else None, now),
            saves=Timer(spec.save_interval, now),
            refreshes=Timer(self._refresh_seconds(), now),
            polls=Timer(settings.poll_interval if settings else None, now),
            guards=Timer(guard_period, now),
            rotations=Timer(ROTATE_SECONDS if settings else None, now - ROTATE_SECONDS))

    def _step(self, readable: list[int], now: float, timers: _Timers,
              host_watch: HostWatch | None) -> Outcome | None:
        """One turn of the loop; an Outcome once the watch is over."""
        if host_watch is not None and timers.ends.fire(now) and host_watch.changed():
            ending = self._ending_now()
            if ending is not None:
                return Outcome(ending)
        if now >= timers.deadline:
            log.info("the session's time limit (%.0f s) ran out", self.spec.duration)
            return Outcome(None)
        threat = self._events(readable, now, timers.guards)
        if threat is None and timers.polls.fire(now):
            threat = self._poll(now)
        if threat is not None:
            return Outcome(threat=threat)
        self._reap_tasks(readable)
        if timers.guards.fire(now) or self.guard_wanted:
            self._start_guard(timers.guards, now)
        if timers.refreshes.fire(now):
            self._start("refresh")
        if timers.saves.fire(now):
            self._start("save")
        if timers.rotations.fire(now):
            self._rotate()
        return None

    def _ending_now(self) -> Ending | None:
        from coi.session.watch import current_ending

        spec = self.spec
        return current_ending(self.client, spec.container, spec.code_uid, spec.home)

    def _wait(self, timeout: float) -> list[int]:
        fds = [self.wake_r, *(self.watchman.fds() if self.watchman else [])]
        fds += [p.stdout.fileno() for p in self.tasks.values() if p.stdout is not None]
        try:
            return select.select(fds, [], [], timeout)[0]
        except InterruptedError:
            return []

    def _watch(self) -> None:
        from coi.incus import connect
        from coi.session.watch import wait_for_end

        spec = self.spec
        try:
            with connect(spec.remote or None, spec.project) as client:
                self.result.append(wait_for_end(client, spec.container, spec.code_uid,
                                                spec.home))
        except BaseException:
            log.exception("watching %s failed", spec.container)
        finally:
            with contextlib.suppress(OSError):  # the loop may have ended first
                os.write(self.wake_w, b"x")
            os.close(self.wake_w)

    # -- monitoring -------------------------------------------------------------------

    def _start_monitor(self, cgroup: Path | None) -> None:
        from coi.monitor.engine import Settings
        from coi.session.watchman import open_watchman

        spec = self.spec
        if not spec.monitor:
            log.info("monitoring is off for this session")
            return
        self.watchman = open_watchman(
            self.client, spec.container, Settings.from_json(spec.monitor), cgroup,
            spec.coi_home, flag=self._flag, watch_nft=self._guarding())

    def _flag(self, mark: dict[str, Any]) -> None:
        """Mark the session's record as paused or killed by the monitor."""
        self.store.flag(self.spec.tool, self.spec.session_id, mark)

    def _events(self, readable: list[int], now: float, guards: Timer) -> Finding | None:
        if self.watchman is None:
            return None
        found, nft_changed = self.watchman.events(readable, now)
        if nft_changed:
            self.guard_wanted = True
            guards.soon(now, GUARD_DEBOUNCE)
        return self.watchman.respond(found)

    def _poll(self, now: float) -> Finding | None:
        return self.watchman.poll(now) if self.watchman is not None else None

    def _rotate(self) -> None:
        from coi.monitor.audit import audit_dir
        from coi.monitor.rotation import rotate

        assert self.watchman is not None
        try:
            rotate(audit_dir(self.spec.coi_home),
                   self.watchman.settings.audit_log_retention_days, datetime.now(UTC))
        except OSError as exc:
            log.warning("audit log rotation failed: %s", exc)

    # -- the firewall's integrity ----------------------------------------------------

    def _guarding(self) -> bool:
        """Whether the session has coi rules to keep (not open mode without a table)."""
        return bool(self.network.get("mode", "open") != "open")

    def _start_guard(self, guards: Timer, now: float) -> None:
        if "guard" in self.tasks:
            return  # it will run again: the pending change is still wanted
        self.guard_wanted = False
        if guards.period is None:
            guards.due = float("inf")
        self._start("guard")

    def _guard_done(self, code: int, output: bytes) -> None:
        from coi.monitor.findings import Finding, Severity

        try:
            result = json.loads(output.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            result = {}
        problems = result.get("problems") or []
        if code == 0 and not problems:
            self.guard_failures = 0
            return
        if code != 0 and not result and self.guard_failures == 0 and self.timers:
            # The check itself failed (nft busy, a daemon hiccup): once more, shortly.
            self.guard_failures += 1
            log.warning("checking the network rules failed; trying again")
            self.timers.guards.soon(time.monotonic(), GUARD_RETRY_SECONDS)
            return
        self.guard_failures = 0
        finding = Finding(Severity.HIGH, "policy_integrity",
                          "Network rules of the session changed",
                          {"problems": problems[:20], "left": result.get("left", [])},
                          key="rules")
        if code == 0 and result.get("repaired"):
            log.warning("network rules were changed (%s): repaired", "; ".join(problems))
            self._audit(finding, "repaired")
            return
        if self.watchman is not None and self.watchman.responder.state != "running":
            log.warning("network rules still not as coi installed them (%s); the container "
                        "stays paused", "; ".join(result.get("left") or problems)
                        or "the check failed")
            return
        log.error("network rules could not be checked or repaired (%s): pausing",
                  "; ".join(result.get("left") or problems) or "the check failed")
        try:
            IncusActions(self.client, self.spec.container, self._flag).pause(finding)
            action = "paused"
        except (CoiError, OSError) as exc:
            log.error("pausing failed too: %s", exc)
            action = "pause-failed"
        if action == "paused" and self.watchman is not None:
            self.watchman.responder.state = "paused"
            self.watchman.responder.cause = finding
        self._audit(finding, action)

    def _audit(self, finding: Finding, action: str) -> None:
        from coi.monitor.audit import AuditLog, audit_path, event

        if self.watchman is not None:
            self.watchman.responder.record(finding, action)
        else:
            AuditLog(audit_path(self.spec.coi_home, self.spec.container)).append(
                event(finding, self.spec.container, action))

    # -- child tasks --------------------------------------------------------------------

    def _refresh_seconds(self) -> float | None:
        network = self.network
        hostnames = network.get("mode") == "allowlist" or bool(network.get("proxy"))
        minutes = network.get("refresh_interval_minutes") or 0
        return float(minutes) * 60 if hostnames and minutes else None

    def _start(self, job: str) -> None:
        from coi.session.supervisor import start_task

        if job in self.tasks:
            log.info("%s still running; skipped this time", job)
            return
        try:
            self.tasks[job] = start_task(self.spec, job)
        except OSError as exc:
            log.warning("could not start %s: %s", job, exc)

    def _reap_tasks(self, readable: list[int]) -> None:
        """Collect tasks whose output ended (each prints one line, then exits)."""
        for job, proc in list(self.tasks.items()):
            out = proc.stdout
            if out is not None and out.fileno() not in readable and proc.poll() is None:
                continue
            output = out.read() if out is not None else b""
            if out is not None:
                out.close()
            proc.wait()
            del self.tasks[job]
            self._task_done(job, proc.returncode, output)

    def _task_done(self, job: str, code: int, output: bytes) -> None:
        from coi.session.record import now_iso
        from coi.session.supervisor import write_run_state

        if job == "guard":
            self._guard_done(code, output)
        elif code != 0:
            log.warning("%s failed (exit %d); see above", job, code)
        elif job == "save":
            self.last_save = now_iso()
            log.info("saved %s", self.spec.session_id)
            write_run_state(self.spec, last_save=self.last_save)
        else:
            log.info("%s done", job)

    def _finish_tasks(self) -> None:
        """At the end: let a running save finish (its data is the user's)."""
        for job, proc in list(self.tasks.items()):
            try:
                proc.wait(timeout=120 if job == "save" else 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self.tasks.clear()
