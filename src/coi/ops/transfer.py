"""`coi file push` and `pull`: copy files and trees between the host and a container.

Destinations work as with `cp`: an existing directory receives the source under its own
name, anything else is the copy's new name. Modes travel both ways (setuid/setgid are
dropped on the host); push keeps the host file's uid and gid, as `incus file push`
does, and an existing file keeps its own mode and owner (as with `cp`). Pull writes
only below DEST, never follows a container symlink and recreates each as a link.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coi.errors import NotFound, PolicyError, UsageError
from coi.incus import files
from coi.incus.filetree import TreeStats, pull_tree, push_tree
from coi.ops.target import require

if TYPE_CHECKING:
    from coi.incus.client import Client

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}")
FORM_HINT = "write it as CONTAINER:PATH with an absolute PATH, e.g. coi-abc12345-1:/workspace"


@dataclass(frozen=True)
class RemotePath:
    container: str
    path: str

    def __str__(self) -> str:
        return f"{self.container}:{self.path}"


def parse_remote(spec: str) -> RemotePath:
    """`CONTAINER:PATH` -> RemotePath; anything else is a usage error naming the form."""
    container, sep, path = spec.partition(":")
    if not sep or not NAME.fullmatch(container) or not path.startswith("/"):
        raise UsageError(f"{spec!r} is not of the form CONTAINER:PATH", hint=FORM_HINT)
    return RemotePath(container, posixpath.normpath(path) if path != "/" else "/")


@dataclass(frozen=True)
class Copied:
    source: str
    destination: str
    stats: TreeStats


def _stat_or_none(client: Client, name: str, path: str) -> files.FileInfo | None:
    try:
        return files.stat(client, name, path)
    except NotFound:
        return None


def push(client: Client, src: Path, remote: RemotePath, *, recursive: bool = False) -> Copied:
    name = remote.container
    try:
        is_dir = src.is_dir() and not src.is_symlink()
        src.lstat()
    except FileNotFoundError:
        raise NotFound(f"no such file: {src}") from None
    if is_dir and not recursive:
        raise UsageError(f"{src} is a directory", hint="use -r to copy a directory")
    require(client, name)
    dest = remote.path
    there = _stat_or_none(client, name, dest)
    if there is not None and there.type == files.DIRECTORY:
        dest = posixpath.join(dest, src.resolve().name if src.name in ("", ".", "..")
                              else src.name)
    elif _stat_or_none(client, name, posixpath.dirname(dest)) is None:
        raise NotFound(f"no directory {posixpath.dirname(dest)} in {name}")
    if is_dir:
        stats = push_tree(client, name, src, dest)
    else:
        files.push_file(client, name, src, dest)
        stats = TreeStats(files=0 if src.is_symlink() else 1, symlinks=int(src.is_symlink()))
    return Copied(str(src), f"{name}:{dest}", stats)


def pull(client: Client, remote: RemotePath, dest: Path, *,
         recursive: bool = False) -> Copied:
    name = remote.container
    require(client, name)
    info = _stat_or_none(client, name, remote.path)
    if info is None:
        raise NotFound(f"no {remote.path} in {name}")
    if info.type == files.DIRECTORY and not recursive:
        raise UsageError(f"{remote} is a directory", hint="use -r to copy a directory")
    if dest.is_dir():
        dest = dest / (posixpath.basename(remote.path) or name)
    elif not dest.parent.is_dir():
        raise NotFound(f"no such directory: {dest.parent}")
    if info.type == files.DIRECTORY and dest.is_symlink():
        # A link there (perhaps planted in a shared workspace) would lead the copy
        # elsewhere: refuse rather than write through it.
        raise PolicyError(f"{dest} is a symlink; coi will not pull a directory through it",
                          hint="remove the link or choose another destination")
    stats = pull_tree(client, name, remote.path, dest, symlinks="copy")
    return Copied(str(remote), os.fspath(dest), stats)
