"""Recursive push and pull of directory trees between the host and an instance.

Pull trusts nothing the container says. Each name must be a single path component, and
every host write goes through `hostfs` (directory descriptors, O_NOFOLLOW, rename into
place), so nothing is written outside the destination. Container symlinks are never
followed: with `symlinks="copy"` (the default, as `incus file pull -r` does) each one is
recreated as a link: a target inside the pulled tree becomes relative so the copy stays
self-contained, any other target is stored as it is (a container path, which may dangle
on the host). With `symlinks="skip"` links are left out and listed in `skipped`.

Push walks the host tree by directory descriptors without following symlinks and
recreates host symlinks as symlinks in the instance.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from coi.errors import PolicyError
from coi.incus import files, hostfs
from coi.incus.client import Client
from coi.incus.files import DIRECTORY, FILE, SYMLINK, FileInfo

SymlinkPolicy = Literal["copy", "skip"]


@dataclass
class TreeStats:
    files: int = 0
    directories: int = 0
    symlinks: int = 0
    skipped: list[str] = field(default_factory=list)  # paths not copied, and why not


def link_target(target: str, link_path: str, root: str) -> str:
    """The host-side target for a container link at `link_path`: relative when the
    (absolute, as Incus reports it) target lies inside the pulled tree `root`."""
    target = posixpath.normpath(target) if target.startswith("/") else target
    root = posixpath.normpath(root)
    if target == root or target.startswith(root.rstrip("/") + "/"):
        return posixpath.relpath(target, posixpath.dirname(link_path))
    return target


# -- pull ---------------------------------------------------------------------------------


@dataclass
class _Pull:
    client: Client
    name: str
    root: str
    root_fd: int
    symlinks: SymlinkPolicy
    preserve_owner: bool
    stats: TreeStats = field(default_factory=TreeStats)

    def owner(self, info: FileInfo) -> tuple[int, int] | None:
        return (info.uid, info.gid) if self.preserve_owner else None

    def run(self, top: FileInfo) -> None:
        pending: list[tuple[tuple[str, ...], FileInfo]] = [((), top)]
        made: list[tuple[tuple[str, ...], FileInfo]] = []
        while pending:
            parts, info = pending.pop()
            made.append((parts, info))
            dir_fd = hostfs.open_dir(self.root_fd, parts)
            try:
                for entry in info.entries:
                    child = self.entry(dir_fd, info.path, entry)
                    if child is not None:
                        pending.append(((*parts, entry), child))
            finally:
                os.close(dir_fd)
        # Modes last: a read-only directory must not block writing its own content.
        for parts, info in reversed(made):
            hostfs.finish_dir(self.root_fd, parts, info.mode, self.owner(info))

    def entry(self, dir_fd: int, parent: str, entry: str) -> FileInfo | None:
        """Copy one entry; return it if it is a directory still to be filled."""
        if not hostfs.safe_name(entry):
            raise PolicyError(f"{self.name} listed an unsafe file name {entry!r} in {parent}; "
                              "the pull stopped, nothing was written outside the destination")
        path = posixpath.join(parent, entry)
        info, chunks = files.open_path(self.client, self.name, path)
        if info.type == DIRECTORY:
            hostfs.make_dir(dir_fd, entry)
            self.stats.directories += 1
            return info
        if info.type == FILE:
            hostfs.place_file(dir_fd, entry, chunks, info.mode, self.owner(info))
            self.stats.files += 1
        elif info.type == SYMLINK and self.symlinks == "copy":
            target = link_target(info.target, path, self.root)
            hostfs.place_symlink(dir_fd, entry, target, self.owner(info))
            self.stats.symlinks += 1
        else:
            for _ in chunks:  # drain the body so the connection can be reused
                pass
            self.stats.skipped.append(f"{path} ({info.type})")
        return None


def pull_tree(
    client: Client, name: str, src: str, dest: Path, *,
    symlinks: SymlinkPolicy = "copy", preserve_owner: bool = False,
) -> TreeStats:
    """Copy the instance's directory `src` to `dest` (created if missing; what is in it
    already may be replaced). A file or symlink `src` is pulled as by `pull_file`."""
    info, chunks = files.open_path(client, name, src)
    if info.type != DIRECTORY:
        files.save(info, chunks, dest, preserve_owner=preserve_owner)
        return TreeStats(files=int(info.type == FILE), symlinks=int(info.type == SYMLINK))
    with hostfs.host_errors(f"write {dest}"):
        dest.mkdir(mode=0o700, exist_ok=True)
        root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            job = _Pull(client, name, info.path, root_fd, symlinks, preserve_owner)
            job.run(info)
        finally:
            os.close(root_fd)
    return job.stats


# -- push ---------------------------------------------------------------------------------


def push_tree(client: Client, name: str, src: Path, dest: str) -> TreeStats:
    """Copy the host directory `src` to `dest` in the instance, keeping modes, owners
    and symlinks. Fifos, sockets and devices are skipped."""
    stats = TreeStats()
    with hostfs.host_errors(f"read {src}"):
        root_fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            top = os.fstat(root_fd)
            files.mkdir(client, name, dest, mode=top.st_mode, uid=top.st_uid, gid=top.st_gid)
            pending: list[tuple[tuple[str, ...], str]] = [((), dest)]
            while pending:
                parts, target = pending.pop()
                dir_fd = hostfs.open_dir(root_fd, parts)
                try:
                    for sub in _push_dir(client, name, dir_fd, target, stats):
                        pending.append(((*parts, sub), posixpath.join(target, sub)))
                finally:
                    os.close(dir_fd)
        finally:
            os.close(root_fd)
    return stats


def _push_dir(client: Client, name: str, dir_fd: int, target: str,
              stats: TreeStats) -> list[str]:
    """Push one directory's entries; return the subdirectories still to be walked."""
    subdirs = []
    with os.scandir(dir_fd) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        dest = posixpath.join(target, entry.name)
        info = entry.stat(follow_symlinks=False)
        if entry.is_dir(follow_symlinks=False):
            files.mkdir(client, name, dest, mode=info.st_mode, uid=info.st_uid, gid=info.st_gid)
            subdirs.append(entry.name)
            stats.directories += 1
        elif entry.is_symlink() or entry.is_file(follow_symlinks=False):
            _push_entry(client, name, dir_fd, entry.name, dest, stats=stats)
        else:
            stats.skipped.append(f"{dest} (special file)")
    return subdirs


def _push_entry(client: Client, name: str, dir_fd: int, entry: str, dest: str, *,
                stats: TreeStats) -> None:
    fd = hostfs.open_source(dir_fd, entry)
    if fd is None:  # a symlink (perhaps only since the directory was read)
        info = os.lstat(entry, dir_fd=dir_fd)
        files.symlink(client, name, dest, os.readlink(entry, dir_fd=dir_fd),
                      uid=info.st_uid, gid=info.st_gid)
        stats.symlinks += 1
        return
    try:
        files.push_stream(client, name, fd, dest)
    finally:
        os.close(fd)
    stats.files += 1
