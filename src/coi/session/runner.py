"""`coi run`: one command (or one headless prompt) in a fresh container, then gone.

Fast path for a plain command: isolation engaged (protected-path mounts, network rules),
one create-and-start request for an Incus-ephemeral container, the isolation proved from
inside (which waits for its IPv4 address), the exec, the workspace hand-back, and a
forced stop that the daemon turns into the delete. Protected-path mounts may be released
only once nothing runs in the container any more (the stop takes ~0.7 s in the daemon),
so a detached child waits for that and releases them while coi returns at once. With
`--prompt` the tool runs headless as a real
session: credentials copied in, state saved, container deleted after the save.

`--limit-duration`: when it runs out, every process in the container is killed and coi
run exits 124, as timeout(1) does (a headless session is then saved and ended with
reason "time-limit").
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field, replace
from functools import partial
from typing import IO, TYPE_CHECKING

from coi.errors import CoiError, UsageError
from coi.session import container, credentials, isolation, runlock
from coi.session.acquire import Acquired, acquire
from coi.session.boot import wait_network
from coi.session.closing import CloseOptions, close_session
from coi.session.ownership import reclaim_workspace
from coi.session.paths import WORKSPACE, credentials_dir
from coi.session.record import SessionRecord, new_session_id, now_iso
from coi.session.restore import restore_state
from coi.session.resume import select_resume
from coi.session.runwatch import RunWatch
from coi.session.terminal import keyboard_signals_ignored

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.ops.execute import Prepared
    from coi.session.acquire import Progress
    from coi.session.plan import SessionPlan
    from coi.session.store import SessionStore


@dataclass(frozen=True)
class RunRequest:
    command: tuple[str, ...] = ()
    prompt: str | None = None
    tty: bool = False
    wait_network: bool = True


@dataclass(frozen=True)
class Streams:
    stdin: IO[bytes] | None
    stdout: IO[bytes]
    stderr: IO[bytes]


TIMED_OUT = 124  # as timeout(1)
KILLED_BY_MONITOR = 137  # as a command killed by SIGKILL: the monitor stopped its container


@dataclass
class RunResult:
    exit_code: int
    record: SessionRecord | None = None
    note: str | None = None  # e.g. why a 127 probably means "command not found"
    warnings: list[str] = field(default_factory=list)  # for the user, on stderr


def check_request(request: RunRequest) -> None:
    if request.prompt is not None and request.command:
        raise UsageError("give a command or --prompt, not both")
    if request.prompt is None and not request.command:
        raise UsageError("no command given", hint="put it after --: coi run -- make test")


def run(client: Client, plan: SessionPlan, store: SessionStore, request: RunRequest, *,
        streams: Streams, progress: Progress = lambda _: None) -> RunResult:
    check_request(request)
    container.check_image(client, plan.image)
    record = _headless_record(store, plan) if request.prompt is not None else None
    got = acquire(client, plan, store, session_id=record.session_id if record else "",
                  persistent=plan.persistent,
                  incus_ephemeral=record is None and not plan.persistent, progress=progress)
    result = RunResult(125)
    timer = _Limit(client, got.name, plan.duration)
    watch = _run_watch(client, plan, store, got, record)
    try:
        if record is not None:
            record = replace(record, container=got.name, slot=got.slot,
                             persistent=plan.persistent, ended_at=None, end_reason=None)
            store.write(record)
        isolation.prove(client, got.engaged)
        result.warnings += got.engaged.warnings
        watch.start()
        job = _prepare(client, plan, store, got.name, request=request, record=record)
        timer.start()
        result = _execute(client, job, request, streams, result.warnings)
    except CoiError:
        if not (timer.fired or watch.threat):  # a kill may cut the exec's stream
            raise
    finally:
        timer.cancel()
        watch.stop()  # before any fork below: no thread may be running then
        with keyboard_signals_ignored():  # a second Ctrl-C must not cut clean-up short
            reason = "threat" if watch.threat else "time-limit" if timer.fired else "exit"
            if watch.threat is None and record is None and _handed_off(client, plan, got):
                pass  # a detached child stops the container and releases what remains
            else:
                result.record = _finish(client, plan, store, got, record, reason=reason,
                                        notes=result.warnings)
                runlock.release_for(got.run_lock, plan.coi_home, got.name)
    _report(result, plan, timer, watch)
    return result


def _report(result: RunResult, plan: SessionPlan, timer: _Limit, watch: RunWatch) -> None:
    if watch.threat is not None:
        result.exit_code = KILLED_BY_MONITOR
        threat = watch.threat
        result.warnings.append(
            f"SECURITY ALERT [{threat.severity.name}] {threat.title}: the monitor killed "
            f"the container (details: coi monitor audit {watch.container})")
    elif timer.fired:
        result.exit_code = TIMED_OUT
        result.warnings.append(f"--limit-duration ({plan.config.limits.duration}) ran out: "
                               "the command was killed")


def _run_watch(client: Client, plan: SessionPlan, store: SessionStore, got: Acquired,
               record: SessionRecord | None) -> RunWatch:
    """The monitor for the run's container (started once its isolation is proved)."""
    from coi.session.start import monitor_settings

    flag = partial(store.flag, record.tool, record.session_id) if record else None
    return RunWatch(client, got.name, monitor_settings(plan, got.engaged.applied.log_group),
                    plan.coi_home, flag)


class _Limit:
    """`--limit-duration` for coi run: kill everything in the container when it ends."""

    def __init__(self, client: Client, name: str, seconds: int | None) -> None:
        self.fired = False
        self._timer = threading.Timer(seconds or 0, self._kill, (client, name))
        self._timer.daemon = True
        self._armed = seconds is not None

    def start(self) -> None:
        if self._armed:
            self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def _kill(self, client: Client, name: str) -> None:
        from coi.incus import exec as incus_exec

        self.fired = True
        with contextlib.suppress(CoiError):
            incus_exec.run(client, name, ["sh", "-c", "kill -KILL -1"], user=0, group=0,
                           timeout=30)


def _headless_record(store: SessionStore, plan: SessionPlan) -> SessionRecord:
    if plan.resume is not None:
        return select_resume(store, plan.workspace, plan.tool.name, plan.resume,
                             tool_given=plan.flags.tool is not None)
    return SessionRecord(session_id=new_session_id(), tool=plan.tool.name,
                         workspace=plan.workspace, container="", slot=0,
                         persistent=plan.persistent, image=plan.image,
                         created_at=now_iso(), profile=plan.profile)


def _prepare(client: Client, plan: SessionPlan, store: SessionStore, name: str, *,
             request: RunRequest, record: SessionRecord | None) -> Prepared:
    from coi.ops.execute import Prepared, terminal_env

    command = list(request.command)
    if record is not None and request.prompt is not None:
        command = _headless_setup(client, plan, store, record, request.prompt)
    if request.wait_network and not plan.network_policy.filtered:
        wait_network(client, name)  # a filtered policy's proof waited for it already
    env = dict(plan.env)
    if request.tty:
        import os

        env |= terminal_env(os.environ)
    return Prepared(name, tuple(command), plan.code_uid, plan.code_uid, env, WORKSPACE)


def _headless_setup(client: Client, plan: SessionPlan, store: SessionStore,
                    record: SessionRecord, prompt: str) -> list[str]:
    tool = plan.tool
    state = store.state_dir(record.tool, record.session_id)
    restored = state if plan.resume is not None and state.is_dir() else None
    if restored is not None and tool.state_dir:
        restore_state(client, record.container, restored,
                      target=f"{plan.home}/{tool.state_dir}", uid=plan.code_uid,
                      home=plan.home)
    injection = credentials.gather(tool, plan.host_home,
                                   credentials_dir(plan.coi_home, tool.name),
                                   bypass=plan.bypass, restored=restored)
    credentials.push(client, record.container, injection, home=plan.home, uid=plan.code_uid)
    tool_session = tool.find_tool_session(restored) if restored is not None else None
    return tool.headless_argv(plan.binary, prompt, plan.bypass, tool_session=tool_session,
                              resume=restored is not None)


def _execute(client: Client, job: Prepared, request: RunRequest, streams: Streams,
             warnings: list[str]) -> RunResult:
    from coi.ops import execute

    if request.tty:
        from coi.ops.terminal import run_pty

        return RunResult(run_pty(client, job), warnings=warnings)
    done = execute.stream(client, job, streams.stdin, streams.stdout, streams.stderr)
    return RunResult(done.exit_code, note=execute.silent_failure(job, done),
                     warnings=warnings)


def _finish(client: Client, plan: SessionPlan, store: SessionStore, got: Acquired,
            record: SessionRecord | None, *, reason: str,
            notes: list[str]) -> SessionRecord | None:
    """Save (a headless session), hand workspace files back, remove the container, then
    release its isolation."""
    name = got.name
    threat = reason == "threat"  # the monitor stopped it: nothing in it may run again
    if record is not None:
        options = CloseOptions(code_uid=plan.code_uid, home=plan.home,
                               shutdown_timeout=plan.shutdown_timeout, coi_home=plan.coi_home,
                               start_for_reclaim=not threat)
        closed = close_session(client, store, record, running=not threat, reason=reason,
                               options=options)
        notes += closed.notes
        return closed.record
    if not threat:
        with contextlib.suppress(CoiError):
            reclaim_workspace(client, name, plan.code_uid)
    if plan.persistent:
        from coi.session.closing import stop_container

        stop_container(client, name, timeout=plan.shutdown_timeout)
    else:
        _kill(client, name, wait=got.engaged.guard.protection.active)
    notes += isolation.release(plan.coi_home, name)
    return None


def _handed_off(client: Client, plan: SessionPlan, got: Acquired) -> bool:
    """A plain command's container with protected paths: its mounts may be released only
    once it has stopped (~0.7 s in the daemon). Hand the workspace back now, then leave
    the stop and the release to a detached child, so `coi run` returns at once. The child
    keeps the run lock, so `coi clean` never takes it for an orphan; if it dies, `coi
    clean` finishes its work."""
    if plan.persistent or not got.engaged.guard.protection.active:
        return False
    with contextlib.suppress(CoiError):
        reclaim_workspace(client, got.name, plan.code_uid)
    import os

    if os.fork() != 0:
        os.close(got.run_lock)  # the child holds it now; it removes the file when done
        return True
    _finish_detached(client, plan, got)
    raise AssertionError("unreachable")  # _finish_detached never returns


def _finish_detached(client: Client, plan: SessionPlan, got: Acquired) -> None:
    import os

    from coi.incus.client import Client as NewClient

    status = 0
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        fresh = NewClient(client.endpoint, project=client.project)  # never share a socket
        _kill(fresh, got.name, wait=True)
        isolation.release(plan.coi_home, got.name)
        runlock.release_for(got.run_lock, plan.coi_home, got.name)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _kill(client: Client, name: str, *, wait: bool) -> None:
    """Force-stop an Incus-ephemeral container: the daemon deletes it once stopped.
    Without `wait` the request returns at once (waiting adds the daemon's ~0.7 s)."""
    from coi.incus.client import quote

    body = {"action": "stop", "force": True, "timeout": -1}
    with contextlib.suppress(CoiError):
        if wait:
            client.sync("PUT", f"/instances/{quote(name)}/state", body, timeout=60,
                        context=f"stop {name}")
        else:
            client.request("PUT", f"/instances/{quote(name)}/state", body,
                           context=f"stop {name}")
