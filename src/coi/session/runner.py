"""`coi run`: one command (or one headless prompt) in a fresh container, then gone.

Fast path for a plain command: one create-and-start request for an Incus-ephemeral
container, an optional wait for its IPv4 address, the exec, the workspace hand-back, and
a forced stop that the daemon turns into the delete (coi does not wait for it: the stop
takes ~0.7 s in the daemon whatever we do). With `--prompt` the tool runs headless as a
real session: credentials copied in, state saved, container deleted after the save.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING

from coi.errors import CoiError, UsageError
from coi.session import container, credentials, runlock
from coi.session.acquire import acquire
from coi.session.boot import wait_network
from coi.session.closing import CloseOptions, close_session
from coi.session.ownership import reclaim_workspace
from coi.session.paths import WORKSPACE, credentials_dir
from coi.session.record import SessionRecord, new_session_id, now_iso
from coi.session.restore import restore_state
from coi.session.resume import select_resume
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


@dataclass
class RunResult:
    exit_code: int
    record: SessionRecord | None = None
    note: str | None = None  # e.g. why a 127 probably means "command not found"


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
    try:
        if record is not None:
            record = replace(record, container=got.name, slot=got.slot,
                             persistent=plan.persistent, ended_at=None, end_reason=None)
            store.write(record)
        job = _prepare(client, plan, store, got.name, request=request, record=record)
        result = _execute(client, job, request, streams)
    finally:
        with keyboard_signals_ignored():  # a second Ctrl-C must not cut clean-up short
            result.record = _finish(client, plan, store, got.name, record)
            runlock.release_for(got.run_lock, plan.coi_home, got.name)
    return result


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
    if request.wait_network:
        wait_network(client, name)
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


def _execute(client: Client, job: Prepared, request: RunRequest,
             streams: Streams) -> RunResult:
    from coi.ops import execute

    if request.tty:
        from coi.ops.terminal import run_pty

        return RunResult(run_pty(client, job))
    done = execute.stream(client, job, streams.stdin, streams.stdout, streams.stderr)
    return RunResult(done.exit_code, note=execute.silent_failure(job, done))


def _finish(client: Client, plan: SessionPlan, store: SessionStore, name: str,
            record: SessionRecord | None) -> SessionRecord | None:
    """Save (a headless session), hand workspace files back, then remove the container."""
    if record is not None:
        options = CloseOptions(code_uid=plan.code_uid, home=plan.home,
                               shutdown_timeout=plan.shutdown_timeout)
        return close_session(client, store, record, running=True, options=options).record
    with contextlib.suppress(CoiError):
        reclaim_workspace(client, name, plan.code_uid)
    if plan.persistent:
        from coi.session.closing import stop_container

        stop_container(client, name, timeout=plan.shutdown_timeout)
    else:
        _kill_without_waiting(client, name)
    return None


def _kill_without_waiting(client: Client, name: str) -> None:
    """Force-stop an Incus-ephemeral container: the daemon deletes it once stopped.
    The request returns at once; waiting would only add the daemon's ~0.7 s stop."""
    from coi.incus.client import quote

    with contextlib.suppress(CoiError):
        client.request("PUT", f"/instances/{quote(name)}/state",
                       {"action": "stop", "force": True, "timeout": -1},
                       context=f"stop {name}")
