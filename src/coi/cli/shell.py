"""`coi shell` (also plain `coi`): an interactive AI coding session in a container."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.cli.options import session_options
from coi.errors import UsageError

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.plan import SessionFlags, SessionPlan
    from coi.session.record import SessionRecord
    from coi.session.start import Started
    from coi.session.store import SessionStore
    from coi.session.terminal import AfterAttach

EPILOG = """\b
Examples:
  coi shell                         Claude Code in this directory's container
  coi shell --tool opencode         another tool
  coi shell --persistent            keep the container (installed packages) afterwards
  coi shell --resume                continue this workspace's newest session
  coi shell --resume=ID             continue session ID (see `coi list --all`)
  coi shell --background            start detached; `coi attach` joins it
\b
A session the security monitor paused or killed is restored by --resume only after you
confirm (asked on a terminal; --accept-flagged otherwise). While you are attached, the
monitor's alerts (severity warning and above) appear in your terminal.
\b
Leave with `exit` (the tool, then the shell), or detach with Ctrl-b d. The session's data
is saved when it ends and every few minutes meanwhile ([session] save_interval_minutes)."""


@click.command(epilog=EPILOG)
@session_options
@click.option("--background", is_flag=True, help="Start detached; attach with `coi attach`.")
@click.option("--debug", is_flag=True, help="Run bash instead of the tool.")
@click.option("--accept-flagged", is_flag=True,
              help="With --resume: restore a session the security monitor paused or killed "
                   "without asking (see `coi monitor audit`).")
def shell(flags: SessionFlags, background: bool, accept_flagged: bool) -> None:
    """Start an interactive AI coding session (the tool runs in tmux in the container)."""
    from coi.incus import connect
    from coi.session import plan as planning
    from coi.session.env import sanitize_term
    from coi.session.start import Reporter, Terminal, start_shell
    from coi.session.store import SessionStore

    plan = planning.make_plan(flags, planning.load(flags))
    for warning in plan.warnings:
        render.warn(warning)
    if not background and not sys.stdin.isatty():
        raise UsageError("coi shell needs a terminal",
                         hint="start it with --background and `coi attach` later, or use "
                              "`coi run --prompt` in scripts")
    store = SessionStore(plan.coi_home, plan.owner)
    confirm_flagged(store, plan, accept_flagged)
    size = shutil.get_terminal_size()
    terminal = Terminal(sanitize_term(os.environ.get("TERM")), size.columns, size.lines)
    with connect(plan.remote or None, plan.project) as client:
        started = start_shell(client, plan, store, terminal=terminal,
                              say=Reporter(progress=_progress, notice=_notice))
        if background:
            render.line(_background_text(started))
            return
        after = _attach(client, plan, store, started, terminal.term)
    render.line(ended_text(started.record, after))


def confirm_flagged(store: SessionStore, plan: SessionPlan, accepted: bool) -> None:
    """A resumed session the monitor flagged restores only once the user confirms: asked
    on a terminal, or --accept-flagged; otherwise PolicyError (exit 9)."""
    from coi.session import resume

    if plan.resume is None:
        return
    record = resume.find_resume(store, plan.workspace, plan.tool.name, plan.resume,
                                tool_given=plan.flags.tool is not None)
    if not resume.needs_confirmation(record):
        return
    if not accepted:
        if not sys.stdin.isatty():
            raise resume.flagged_error(record)
        if not click.confirm(resume.confirm_question(record), default=False, err=True):
            raise click.Abort()
    resume.accept(store, record)


def _notice(text: str) -> None:
    render.line(f"coi: {text}", err=True)


def _progress(text: str) -> None:
    if render.is_tty(sys.stderr):
        render.line(f"coi: {text}", err=True)


def _attach(client: Client, plan: SessionPlan, store: SessionStore, started: Started,
            term: str) -> AfterAttach:
    from dataclasses import replace

    from coi.session import tmux
    from coi.session.terminal import after_attach, alert_watcher, run_terminal

    name = started.record.container
    env = {**tmux.base_env(plan.home, plan.code_user), "TERM": term}
    alerts = alert_watcher(plan.coi_home, name)
    run_terminal(tmux.incus_exec_argv(name, tmux.attach_argv(name), uid=plan.code_uid,
                                      env=env, remote=plan.remote, project=client.project),
                 alerts=alerts)
    after = after_attach(client, store, started.record, coi_home=plan.coi_home,
                         uid=plan.code_uid, home=plan.home)
    return replace(after, alerts=tuple(alerts.seen)) if alerts is not None else after


def _background_text(started: Started) -> str:
    record = started.record
    verb = "Resumed" if started.resumed else "Started"
    return (f"{verb} session {record.session_id} in the background in {record.container}.\n"
            f"Attach with: coi attach {record.container}")


def ended_text(record: SessionRecord, after: AfterAttach) -> str:
    """What the user reads when the terminal comes back to them."""
    if after.frozen:
        return paused_text(record, after.monitor or {})
    if after.detached:
        return (f"Detached; session {record.session_id} keeps running in {record.container}."
                f"\nReturn with: coi attach {record.container}")
    final = after.record or record
    lines = [f"Session {final.session_id} ended"
             + (" and saved." if final.has_state else " (nothing to save).")]
    if final.threat:
        lines.insert(0, threat_text(final))
    if final.persistent:
        lines.append(f"Container {final.container} kept (persistent); "
                     "`coi shell --persistent` reuses it.")
    if final.has_state:
        flag = " --accept-flagged" if final.threat else ""
        lines.append(f"Resume with: coi shell --resume={final.session_id}{flag}")
    return "\n".join(lines)


def threat_text(record: SessionRecord) -> str:
    """"The security monitor killed this session: Reverse shell detected (critical, …)"."""
    from coi.cli.lifecycle_env import when
    from coi.monitor.alerts import printable
    from coi.session.resume import flagged_action

    threat = record.threat or {}
    title = printable(threat.get("title") or threat.get("detector") or "a threat")
    detail = ", ".join(str(p) for p in (threat.get("severity"), when(threat.get("time")))
                       if p and p != "-")
    return (f"The security monitor {flagged_action(record)} this session: {title}"
            + (f" ({detail})" if detail else "")
            + f".\nWhat it saw: coi monitor audit {record.container}")


def paused_text(record: SessionRecord, marker: dict[str, object]) -> str:
    from coi.monitor.alerts import printable

    name = record.container
    title = marker.get("title") or marker.get("detector")
    why = f" by the security monitor ({printable(title)})" if title else ""
    return (f"Session {record.session_id} is paused{why}: container {name} is frozen.\n"
            f"See why with: coi monitor audit {name}\n"
            f"Resume it with: coi unfreeze {name}, then coi attach {name}")
