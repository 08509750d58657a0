"""`coi file push` and `coi file pull`: copy files between the host and a container."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.cli.connection import incus_client

if TYPE_CHECKING:
    from coi.ops.transfer import Copied

EPILOG = """\b
Destinations work as with cp: an existing directory receives the source under its own
name; otherwise the path names the copy. Modes are kept (setuid/setgid never reach the
host). Push keeps the host file's uid/gid; pulled files belong to you. Symlinks are
copied as links, never followed (a link into the pulled tree is made relative)."""


@click.group("file")
def file_group() -> None:
    """Copy files and directories between the host and a container."""


@file_group.command(epilog=EPILOG)
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("target", metavar="CONTAINER:PATH")
@click.option("-r", "--recursive", is_flag=True, help="Copy a directory and its content.")
def push(src: Path, target: str, recursive: bool) -> None:
    """Copy host file SRC (a directory with -r) to PATH in CONTAINER."""
    from coi.ops import transfer

    remote = transfer.parse_remote(target)
    with incus_client() as client:
        done = transfer.push(client, src, remote, recursive=recursive)
    _report("Pushed", done)


@file_group.command(epilog=EPILOG)
@click.argument("source", metavar="CONTAINER:PATH")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("-r", "--recursive", is_flag=True, help="Copy a directory and its content.")
def pull(source: str, dest: Path, recursive: bool) -> None:
    """Copy PATH in CONTAINER (a directory with -r) to host path DEST."""
    from coi.ops import transfer

    remote = transfer.parse_remote(source)
    with incus_client() as client:
        done = transfer.pull(client, remote, dest, recursive=recursive)
    _report("Pulled", done)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _report(verb: str, done: Copied) -> None:
    stats = done.stats
    parts = [_count(stats.files, "file")]
    if stats.directories:
        parts.append(_count(stats.directories, "directory").replace("ys", "ies"))
    if stats.symlinks:
        parts.append(_count(stats.symlinks, "symlink"))
    render.line(f"{verb} {', '.join(parts)}: {done.source} -> {done.destination}")
    for skipped in stats.skipped:
        render.warn(f"skipped {skipped}")
