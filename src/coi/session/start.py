"""Starting an interactive session (`coi shell`): from a plan to a tool running in tmux,
looked after by its supervisor.

plan → image check → session record (new, or the resumed one) → container (slot,
isolation engaged, create or restart; run lock held) → metadata written → isolation
proved from inside → saved state restored → credentials copied in → boot finished →
tmux session → supervisor (gets the run lock).
If anything fails or is interrupted before the supervisor runs, the container is closed
as a session would be (saved first) and the error goes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import CoiError
from coi.session import container, credentials, isolation, runlock, tmux
from coi.session.acquire import Acquired, acquire
from coi.session.boot import wait_booted
from coi.session.closing import CloseOptions, close_session
from coi.session.daemon import log_path, spawn
from coi.session.paths import credentials_dir
from coi.session.plan import with_tool
from coi.session.record import SessionRecord, new_session_id, now_iso
from coi.session.restore import restore_state
from coi.session.resume import select_resume
from coi.session.supervisor import SupervisorSpec
from coi.session.terminal import keyboard_signals_ignored

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.plan import SessionPlan
    from coi.session.store import SessionStore

Say = Callable[[str], None]


@dataclass
class Started:
    record: SessionRecord
    resumed: bool
    reused: bool
    supervisor_pid: int
    notes: list[str] = field(default_factory=list)


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Reporter:
    """How the core talks to the user: short progress lines and one-off notices."""

    progress: Say = _quiet
    notice: Say = _quiet


@dataclass(frozen=True)
class Terminal:
    term: str = "xterm-256color"
    width: int = 200
    height: int = 50


def start_shell(client: Client, plan: SessionPlan, store: SessionStore, *,
                terminal: Terminal = Terminal(), say: Reporter = Reporter()) -> Started:
    container.check_image(client, plan.image)
    resumed = _resumed(store, plan)
    if resumed is not None and resumed.tool != plan.tool.name:
        plan = with_tool(plan, resumed.tool)
    record = resumed or _new_record(plan)
    persistent = _persistent(plan, resumed)
    got = acquire(client, plan, store, session_id=record.session_id, persistent=persistent,
                  resume_container=resumed.container if resumed else None,
                  progress=say.progress)
    if got.moved_from is not None:
        say.notice(f"slot {got.moved_from} is in use; using slot {got.slot}")
    try:
        record = replace(record, container=got.name, slot=got.slot, persistent=persistent,
                         image=plan.image, profile=plan.profile or record.profile,
                         ended_at=None, end_reason=None)
        store.write(record)
        say.progress("checking the isolation from inside")
        isolation.prove(client, got.engaged)
        for warning in got.engaged.warnings:
            say.notice(warning)
        saved = store.state_dir(record.tool, record.session_id)
        restored = saved if resumed is not None and saved.is_dir() else None
        _prepare(client, plan, record, restored=restored, terminal=terminal, say=say)
        pid = _supervise(plan, record, got, client.project)
    except BaseException:
        _abandon(client, plan, store, record)
        raise
    finally:
        runlock.release(got.run_lock)  # the supervisor holds its own copy now
    return Started(record, resumed is not None, got.reused, pid)


def _resumed(store: SessionStore, plan: SessionPlan) -> SessionRecord | None:
    if plan.resume is None:
        return None
    return select_resume(store, plan.workspace, plan.tool.name, plan.resume,
                         tool_given=plan.flags.tool is not None)


def _new_record(plan: SessionPlan) -> SessionRecord:
    return SessionRecord(session_id=new_session_id(), tool=plan.tool.name,
                         workspace=plan.workspace, container="", slot=0,
                         persistent=plan.persistent, image=plan.image,
                         created_at=now_iso(), profile=plan.profile)


def _persistent(plan: SessionPlan, resumed: SessionRecord | None) -> bool:
    """A resumed session keeps its mode unless --persistent was given explicitly."""
    if resumed is not None and plan.flags.persistent is None:
        return resumed.persistent
    return plan.persistent


def _prepare(client: Client, plan: SessionPlan, record: SessionRecord, *,
             restored: Path | None, terminal: Terminal, say: Reporter) -> None:
    tool = plan.tool
    if restored is not None and tool.state_dir:
        say.progress("restoring the saved session")
        restore_state(client, record.container, restored,
                      target=f"{plan.home}/{tool.state_dir}", uid=plan.code_uid,
                      home=plan.home)
    _inject(client, plan, record, restored=restored, say=say)
    say.progress("starting the session")
    wait_booted(client, record.container)
    argv = _tool_argv(plan, record, restored)
    env = {**plan.env, "TERM": terminal.term}
    _run_checked(client, record.container, plan,
                 tmux.new_session_argv(record.container, argv, env, width=terminal.width,
                                       height=terminal.height))


def _inject(client: Client, plan: SessionPlan, record: SessionRecord, *,
            restored: Path | None, say: Reporter) -> None:
    tool = plan.tool
    if not tool.files:
        return
    kept = credentials_dir(plan.coi_home, tool.name)
    injection = credentials.gather(tool, plan.host_home, kept, bypass=plan.bypass,
                                   restored=restored)
    say.progress("copying credentials and settings")
    credentials.push(client, record.container, injection, home=plan.home, uid=plan.code_uid)
    if not injection.logged_in and tool.login_hint:
        say.notice(f"no {tool.display} credentials in {tool.login_hint}: log in inside the "
               f"session; coi keeps that login in ~/.coi/credentials/{tool.name}/ for "
               "your next sessions")
    elif injection.from_kept:
        say.progress(f"using the login coi kept in ~/.coi/credentials/{tool.name}/")
    for path in injection.unmerged:
        say.notice(f"~/{path} is not a JSON object; copied unchanged, without coi's settings")


def _tool_argv(plan: SessionPlan, record: SessionRecord, restored: Path | None) -> list[str]:
    if plan.debug:
        return ["bash"]
    tool = plan.tool
    if restored is not None:
        tool_session = tool.find_tool_session(restored)
        return tool.resume_argv(plan.binary, tool_session, plan.bypass)
    return tool.start_argv(plan.binary, record.session_id, plan.bypass)


def _run_checked(client: Client, name: str, plan: SessionPlan, argv: list[str]) -> None:
    """Start tmux; once more if Incus lost track of the first try (it sometimes fails to
    read an exec's pid under load and reports -1) and no session is there."""
    from coi.incus import exec as incus_exec
    from coi.session.watch import session_alive

    env = {**tmux.base_env(plan.home, plan.code_user), **plan.env}
    for _ in range(2):
        result = incus_exec.run(client, name, argv, user=plan.code_uid, group=plan.code_uid,
                                cwd="/workspace", env=env, timeout=60)
        if result.exit_code not in (-1, 255):
            break
        # Lost track does not mean it did not run: a session there already is started
        # (a second `new-session -A` would try to attach and fail without a terminal).
        if session_alive(client, name, plan.code_uid, plan.home):
            return
    if result.exit_code != 0:
        detail = result.stderr.decode(errors="replace").strip()[-300:]
        raise CoiError(f"could not start tmux in {name}: {detail or result.exit_code}",
                       hint="the image needs tmux; `coi build` makes one that has it")


def _supervise(plan: SessionPlan, record: SessionRecord, got: Acquired, project: str) -> int:
    spec = SupervisorSpec(
        container=record.container, session_id=record.session_id, tool=record.tool,
        coi_home=plan.coi_home, log_path=log_path(plan.logs_dir, record.container),
        remote=plan.remote, project=project, code_uid=plan.code_uid,
        home=plan.home, save_interval=plan.save_interval,
        shutdown_timeout=plan.shutdown_timeout, owner=plan.owner,
        network=isolation.network_spec(plan.config.network, plan.tool.api_domains,
                                       got.engaged.guard.target.bridge.name,
                                       log=got.engaged.applied.policy.log),
        duration=float(plan.duration or 0),
        monitor=monitor_settings(plan, got.engaged.applied.log_group))
    return spawn(spec, got.run_lock)


def monitor_settings(plan: SessionPlan, nflog_group: int | None) -> str:
    """The session's `[monitoring]` settings for its monitor ("": monitoring off)."""
    from coi.monitor.engine import Settings

    if not plan.config.monitoring.enabled:
        return ""
    return Settings.from_config(plan.config.monitoring, plan.config.limits.processes,
                                nflog_group).to_json()


def _abandon(client: Client, plan: SessionPlan, store: SessionStore,
             record: SessionRecord) -> None:
    """Setting up failed or was interrupted: close the container as a session ends."""
    if not record.container:
        return
    options = CloseOptions(code_uid=plan.code_uid, home=plan.home,
                           shutdown_timeout=plan.shutdown_timeout, coi_home=plan.coi_home)
    with contextlib.suppress(CoiError, OSError), keyboard_signals_ignored():
        close_session(client, store, record, running=True, reason="interrupted",
                      options=options)
