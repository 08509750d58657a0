"""`coi snapshot`: snapshots of a container, optionally with its workspace.

The container is -c NAME, else $COI_CONTAINER, else the one container of the workspace
(-w PATH, default the current directory). JSON shapes are in coi.ops.snapshots.
"""

from __future__ import annotations

from datetime import datetime

import click

from coi.cli import render
from coi.cli.snapshot_support import confirm, create_target_options, session, target_options
from coi.cli.snapshot_text import info_rows, table, ws_text
from coi.errors import UsageError


@click.group()
def snapshot() -> None:
    """Create, list, restore and delete snapshots (optionally with the workspace)."""


@snapshot.command()
@click.argument("name", required=False)
@click.option("--stateful", is_flag=True, help="Save the running memory too (needs CRIU).")
@click.option("--workspace", "with_workspace", is_flag=True,
              help="Also copy the workspace (the host directory at /workspace).")
@create_target_options
@render.json_option
def create(*, name: str | None, stateful: bool, with_workspace: bool,
           target: tuple[str | None, str], as_json: bool) -> None:
    """Snapshot the container as NAME (default snap-YYYYMMDD-HHMMSS)."""
    from coi.ops import snapshots

    with session(target) as (client, store, container):
        view = snapshots.create(client, store, container, name, now=datetime.now(),
                                stateful=stateful, workspace=with_workspace)
    render.emit(view.to_json(), as_json,
                lambda _: f"Created snapshot {view.name} of {container}{ws_text(view)}")


@snapshot.command("list")
@target_options
@render.json_option
def list_command(target: tuple[str | None, str], as_json: bool) -> None:
    """List the container's snapshots, oldest first."""
    from coi.ops import snapshots

    with session(target) as (client, store, container):
        views = snapshots.listing(client, store, container)
    data = {"container": container, "snapshots": [v.to_json() for v in views]}
    render.emit(data, as_json, lambda _: table(container, views))


@snapshot.command()
@click.argument("name")
@target_options
@render.json_option
def info(name: str, target: tuple[str | None, str], as_json: bool) -> None:
    """Show snapshot NAME."""
    from coi.ops import snapshots

    with session(target) as (client, store, container):
        view = snapshots.info(client, store, container, name)
    data = {"container": container, **view.to_json()}
    render.emit(data, as_json, lambda _: "\n".join(
        f"{k + ':':11}{v}" for k, v in info_rows(container, view)))


@snapshot.command()
@click.argument("name")
@click.option("-y", "--yes", "-f", "--force", "yes", is_flag=True,
              help="Do not ask for confirmation.")
@click.option("--stop", is_flag=True, help="Stop a running container first (it stays stopped).")
@click.option("--stateful", is_flag=True, help="Restore the saved memory too.")
@target_options
def restore(*, name: str, yes: bool, stop: bool, stateful: bool,
            target: tuple[str | None, str]) -> None:
    """Restore snapshot NAME (and its workspace copy, if it has one).

    The current state is snapshotted first as pre-restore-YYYYMMDD-HHMMSS, so
    `coi snapshot restore pre-restore-…` undoes the rollback.
    """
    from coi.ops import rollback

    with session(target) as (client, store, container):
        todo = rollback.plan(client, store, container, name, stop=stop)
        what = f"{container}'s filesystem" + (
            f" and all of {todo.workspace}" if todo.workspace else "")
        confirm(f"Replace {what} with snapshot {name}?", yes)
        done = rollback.restore(client, store, todo, now=datetime.now(), stateful=stateful)
    for leftover in done.cleaned:
        render.warn(f"removed the leftovers of an interrupted restore: {leftover}")
    stopped = f"; {container} was stopped and stays stopped" if done.stopped else ""
    ws = f" and {todo.workspace} ({done.files} files)" if todo.workspace else ""
    render.line(f"Restored {container}{ws} to {name}{stopped}.\n"
                f"The state before is snapshot {done.pre_restore}.")


@snapshot.command()
@click.argument("name", required=False)
@click.option("--all", "everything", is_flag=True, help="Delete every snapshot.")
@click.option("-y", "--yes", "-f", "--force", "yes", is_flag=True,
              help="Do not ask before --all.")
@target_options
def delete(*, name: str | None, everything: bool, yes: bool,
           target: tuple[str | None, str]) -> None:
    """Delete snapshot NAME (container and workspace parts), or all with --all."""
    from coi.ops import snapshots

    if (name is None) == (not everything):
        raise UsageError("give a snapshot NAME or --all (not both)")
    with session(target) as (client, store, container):
        if name is not None:
            snapshots.delete(client, store, container, name)
            render.line(f"Deleted snapshot {name} of {container}")
            return
        confirm(f"Delete every snapshot of {container}?", yes)
        gone = snapshots.delete_all(client, store, container)
    render.line(f"Deleted {len(gone)} snapshot(s) of {container}")
