"""`coi tmux`: drive a running session's tmux (`coi-<container>`, as user code)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.cli.connection import incus_client

if TYPE_CHECKING:
    from coi.ops.tmux import TmuxSession

LIST_EPILOG = """\b
JSON (--json): a list of {"container", "session", "attached": bool, "windows": N}."""


@click.group()
def tmux() -> None:
    """Send keys to and read the screen of a session's tmux, for scripts."""


@tmux.command()
@click.argument("container")
@click.argument("text")
@click.option("--no-enter", is_flag=True, help="Do not press Enter after TEXT.")
def send(container: str, text: str, no_enter: bool) -> None:
    """Type TEXT into CONTAINER's session (literally), then press Enter."""
    from coi.ops import tmux as ops

    with incus_client() as client:
        ops.send(client, container, text, enter=not no_enter)


@tmux.command()
@click.argument("container")
@click.option("-n", "--lines", type=click.IntRange(min=1), metavar="N",
              help="The last N lines, scrollback included (default: the visible screen).")
def capture(container: str, lines: int | None) -> None:
    """Print what CONTAINER's session shows."""
    from coi.ops import tmux as ops

    with incus_client() as client:
        text = ops.capture(client, container, lines)
    render.line(text)


@tmux.command("list", epilog=LIST_EPILOG)
@render.json_option
def list_command(as_json: bool) -> None:
    """List the coi containers that have a tmux session."""
    from coi.ops import tmux as ops
    from coi.workspace import container_prefix

    with incus_client() as client:
        found = ops.sessions(client, container_prefix(os.environ))
    render.emit([s.to_json() for s in found], as_json, lambda _: _table(found))


def _table(found: list[TmuxSession]) -> str:
    rows = [(s.container, s.session, "yes" if s.attached else "no") for s in found]
    if not rows:
        return "No tmux sessions."
    return render.table(("CONTAINER", "SESSION", "ATTACHED"), rows)
