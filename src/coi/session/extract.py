"""Unpack a tool's state, as a tar stream from the container, safely on the host.

The container is not trusted. Python's `data` extraction filter refuses absolute paths,
`..`, links that point outside the destination and device files, and strips set-uid
and set-gid bits; members it refuses are skipped (and listed), not fatal. Before the
filter sees a symlink, an absolute target inside the state directory itself (tools write
such links, e.g. `~/.claude/debug/latest`) is made relative, so it survives.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from coi.incus.filetree import link_target


@dataclass
class Extracted:
    members: int = 0
    skipped: list[str] = field(default_factory=list)  # "name (why)"


def member_name(name: str) -> str:
    """A member's path relative to the archive root (`tar -C DIR -cf - .` writes `./x`)."""
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    return "" if name == "." else name


MemberFilter = Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None]


def _owner_filter(owner: tuple[int, int] | None) -> MemberFilter:
    def filter_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        safe = tarfile.data_filter(member, dest)
        if safe is None or owner is None:
            return safe
        return safe.replace(uid=owner[0], gid=owner[1], uname="", gname="", deep=False)

    return filter_member


def _relink(member: tarfile.TarInfo, container_root: str) -> None:
    if member.issym() and member.linkname.startswith("/"):
        link_path = posixpath.join(container_root, member.name)
        member.linkname = link_target(member.linkname, link_path, container_root)
    elif member.islnk():
        member.linkname = member_name(member.linkname)


def extract_state(stream: IO[bytes], dest: Path, *, container_root: str,
                  drop: frozenset[str] = frozenset(),
                  owner: tuple[int, int] | None = None) -> Extracted:
    """Extract a tar of the container directory `container_root` into `dest`.

    `drop` names members (relative paths) never written: credentials. `owner` (uid, gid)
    is given to everything written, when running as root (e.g. under sudo); otherwise
    files belong to this process's user.
    """
    result = Extracted()
    # tarfile chowns only as root: then to the store's owner (sudo user), else root.
    member_filter = _owner_filter((owner or (0, 0)) if os.geteuid() == 0 else None)
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            name = member_name(member.name)
            if not name or name in drop:
                continue
            member.name = name
            _relink(member, container_root)
            try:
                archive.extract(member, dest, filter=member_filter)
            except (tarfile.FilterError, OSError) as exc:
                result.skipped.append(f"{name} ({exc})")
                continue
            result.members += 1
    return result
