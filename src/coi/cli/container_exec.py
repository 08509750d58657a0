"""`coi container exec`: run a command in a container.

Exit status: the command's own; 125 when coi could not run it (no such container, a
stopped one, a daemon error); 126/127 when the command is not executable / not found;
2 for bad flags. `--capture --format json` prints {"stdout", "stderr", "exit_code"}.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.cli.connection import incus_client
from coi.errors import UsageError

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.ops.execute import Prepared

EPILOG = """\b
Examples:
  coi container exec NAME -- ls -la /workspace
  coi container exec NAME -t --user code -- bash
  coi container exec NAME --capture --format json -- git status
\b
--capture --format json prints {"stdout": "...", "stderr": "...", "exit_code": N}
(output decoded as UTF-8, undecodable bytes as U+FFFD); --format raw (the default
with --capture) prints the command's stdout byte for byte and its stderr to stderr.
Either way coi exits with the command's status."""


@click.command("exec", epilog=EPILOG)
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("-t", "--tty", is_flag=True, help="Run on a terminal (PTY), interactively.")
@click.option("-u", "--user", metavar="USER", help="User name or uid (default root).")
@click.option("-g", "--group", metavar="GROUP",
              help="Group name or gid (default the user's own group).")
@click.option("-e", "--env", "env_pairs", multiple=True, metavar="K=V",
              help="Set an environment variable (repeatable).")
@click.option("--cwd", metavar="DIR",
              help="Working directory (default /workspace if mounted, else the user's home).")
@click.option("--capture", is_flag=True, help="Collect the output and print it at the end.")
@click.option("--format", "output_format", type=click.Choice(["json", "raw"]),
              help="With --capture: json or raw (default raw).")
@click.pass_context
def exec_command(ctx: click.Context, *, name: str, command: tuple[str, ...], tty: bool,
                 user: str | None, group: str | None, env_pairs: tuple[str, ...],
                 cwd: str | None, capture: bool, output_format: str | None) -> None:
    """Run COMMAND in container NAME (put it after --)."""
    from coi.ops import execute

    if output_format and not capture:
        raise UsageError("--format needs --capture")
    if capture and tty:
        raise UsageError("--capture and -t do not go together",
                         hint="a terminal merges stdout and stderr; drop one of them")
    request = execute.ExecRequest(name, command, user, group,
                                  execute.parse_env(env_pairs), cwd, tty)
    with execute.docker_exit_codes(), incus_client() as client:
        job = execute.prepare(client, request)
        if tty:
            from coi.ops.terminal import run_pty

            code = run_pty(client, job)
        elif capture:
            code = _run_captured(client, job, output_format or "raw")
        else:
            result = execute.stream(client, job, sys.stdin.buffer, sys.stdout.buffer,
                                    sys.stderr.buffer)
            _note(execute.silent_failure(job, result))
            code = result.exit_code
    ctx.exit(code)


def _note(message: str | None) -> None:
    if message:
        render.line(f"coi: {message}", err=True)


def _run_captured(client: Client, job: Prepared, output_format: str) -> int:
    from coi.ops import execute

    result = execute.capture(client, job, sys.stdin.buffer)
    if output_format == "json":
        render.emit(execute.captured_json(result), True, str)
    else:
        sys.stdout.buffer.write(result.stdout)
        sys.stdout.buffer.flush()
        sys.stderr.buffer.write(result.stderr)
        sys.stderr.buffer.flush()
        _note(execute.silent_failure(job, result))
    return result.exit_code
