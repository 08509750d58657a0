"""`coi attach`: join a running session's terminal (its tmux session)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.errors import NotFound

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.session.listing import SessionContainer

EPILOG = """\b
With no NAME: the one running session, or this workspace's when several run; otherwise
the running sessions are listed (exit status 1). Detach again with Ctrl-b d."""


@click.command(epilog=EPILOG)
@click.argument("name", required=False)
@click.option("--slot", type=click.IntRange(1, 10), metavar="N",
              help="This workspace's session in slot N.")
@click.option("-w", "--workspace", default=".", metavar="PATH", help="Workspace for --slot.")
@click.option("--bash", "use_bash", is_flag=True, help="Open a bash shell instead of tmux.")
@click.pass_context
def attach(ctx: click.Context, name: str | None, slot: int | None, workspace: str,
           use_bash: bool) -> None:
    """Attach to a running session (NAME as `coi list` shows it)."""
    from coi.incus import connect
    from coi.session import plan as planning
    from coi.session import tmux
    from coi.session.attach import by_name, choose, live_sessions
    from coi.session.env import sanitize_term
    from coi.session.terminal import alert_watcher, run_terminal
    from coi.workspace import container_name, container_prefix, workspace_path

    flags = planning.SessionFlags(workspace=workspace)
    loaded = planning.load(flags)
    cfg = loaded.config
    uid, home = cfg.incus.code_uid, planning.container_home(cfg.incus.code_user)
    prefix = container_prefix()
    with connect(cfg.incus.remote or None, planning.project_of(loaded)) as client:
        if slot is not None:
            name = container_name(workspace_path(workspace), slot, prefix)
        if name is not None:
            target = by_name(client, prefix, name)
        else:
            picked = choose(live_sessions(client, prefix, uid, home), workspace_path(workspace))
            if picked.chosen is None:
                _list(picked.candidates)
                ctx.exit(1)
            target = picked.chosen
            render.line(f"Attaching to {target.name}...", err=True)
        env = {**tmux.base_env(home, cfg.incus.code_user),
               "TERM": sanitize_term(os.environ.get("TERM"))}
        command = ["bash", "-l"] if use_bash else tmux.attach_argv(target.name)
        code = run_terminal(tmux.incus_exec_argv(target.name, command, uid=uid, env=env,
                                                 remote=cfg.incus.remote,
                                                 project=client.project),
                            alerts=alert_watcher(loaded.home / ".coi", target.name))
        if use_bash:
            ctx.exit(code)
        render.line(_after(client, loaded.home / ".coi", target, uid, home))


def _list(candidates: list[SessionContainer]) -> None:
    if not candidates:
        raise NotFound("No active sessions", hint="start one with `coi shell`")
    render.line("Active sessions:")
    for item in candidates:
        render.line(f"  {item.name}  {item.workspace}")
    render.line("Use: coi attach <container-name>")


def _after(client: Client, coi_home: Path, target: SessionContainer, uid: int,
           home: str) -> str:
    from coi.cli.shell import ended_text
    from coi.session.lifecycle import session_record
    from coi.session.store import SessionStore
    from coi.session.terminal import AfterAttach, after_attach

    store = SessionStore(coi_home)
    record = session_record(store, target)
    if record is None:
        return f"Left {target.name}."
    after: AfterAttach = after_attach(client, store, record, coi_home=coi_home, uid=uid,
                                      home=home)
    return ended_text(record, after)
