"""`coi run`: a command, or a headless prompt, in a fresh container of the workspace."""

from __future__ import annotations

import sys
from typing import Any

import click

from coi.cli import render
from coi.cli.options import session_options
from coi.session.plan import SessionFlags

EPILOG = """\b
Examples:
  coi run -- make test
  coi run -- sh -c 'echo "$HOME"'
  git diff | coi run -- wc -l              stdin is passed through when piped
  coi run -t -- bash                       a terminal (PTY) for interactive programs
  coi run --prompt "fix the failing test"  the AI tool, headless; saved as a session
\b
Exit status: the command's own. coi's own failures use docker's codes: 125 coi or the
Incus daemon failed (e.g. no image: run `coi build`), 126 the command is not executable,
127 the command was not found (Incus reports 126/127 from the exit status alone, so a
command's own `exit 127` reads the same); 2 for bad flags.
\b
The container is created fresh (one request), the workspace mounted at /workspace, the
command run as the code user, and the container deleted afterwards, also on Ctrl-C.
The network policy (restricted by default) is in place before the container starts and
is proved from inside before the command runs, which waits for its IPv4 address; in open
mode --no-wait-network skips that wait. --limit-duration kills the command when it runs
out and exits 124, as timeout(1)."""


class RunCommand(click.Command):
    """Bad flags exit 2 with their own message; everything else coi-made exits 125."""

    def invoke(self, ctx: click.Context) -> Any:
        from coi.ops.execute import docker_exit_codes

        with docker_exit_codes():
            return super().invoke(ctx)


@click.command(cls=RunCommand, epilog=EPILOG)
@session_options
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--prompt", metavar="TEXT", help="Run the AI tool headless on TEXT.")
@click.option("-t", "--tty", is_flag=True, help="Give the command a terminal (PTY).")
@click.option("--accept-flagged", is_flag=True,
              help="Resume (--resume) a session the security monitor paused or killed, "
                   "without being asked.")
@click.option("--no-wait-network", is_flag=True,
              help="Start the command without waiting for the container's IPv4 address.")
@click.pass_context
def run(ctx: click.Context, *, flags: SessionFlags, command: tuple[str, ...],
        prompt: str | None, tty: bool, accept_flagged: bool, no_wait_network: bool) -> None:
    """Run COMMAND (after --) in a fresh container, then delete it."""
    from coi.incus import connect
    from coi.session import plan as planning
    from coi.session.runner import RunRequest, Streams, check_request
    from coi.session.runner import run as run_in_container
    from coi.session.store import SessionStore

    request = RunRequest(command, prompt, tty and sys.stdin.isatty(), not no_wait_network)
    check_request(request)
    plan = planning.make_plan(flags, planning.load(flags))
    for warning in plan.warnings:
        render.warn(warning)
    store = SessionStore(plan.coi_home, plan.owner)
    if prompt is not None:
        from coi.cli.shell import confirm_flagged

        confirm_flagged(store, plan, accept_flagged)
    streams = Streams(sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer)
    with connect(plan.remote or None, plan.project) as client:
        result = run_in_container(client, plan, store, request, streams=streams)
    for warning in result.warnings:
        render.warn(warning)
    if result.note:
        render.warn(result.note)
    if result.record is not None and result.record.has_state:
        render.line(f"coi: session {result.record.session_id} saved; continue it with "
                    f"`coi shell --resume={result.record.session_id}`", err=True)
    ctx.exit(result.exit_code)
