"""Workspace copies that belong to container snapshots, under the invoking user's ~/.coi:

    snapshots/<container>/<snapshot>/workspace/       the copy (see coi.ops.wscopy)
    snapshots/<container>/<snapshot>/metadata.json    WorkspaceRecord (schema-versioned)

A copy is made under a temporary name and renamed into place before its record is
written, so a record always describes a complete copy. Directories are private (0700):
a workspace copy holds whatever the workspace held, `.env` files included.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from coi.errors import UsageError
from coi.incus.hostfs import host_errors
from coi.ops.wscopy import CopyStats, TreeCopy, remove_tree
from coi.ops.wsrestore import is_staging
from coi.state import Owner, make_dirs, read_record, write_record

SCHEMA_VERSION = 1
METADATA = "metadata.json"
COPY = "workspace"
SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def check_name(kind: str, name: str) -> None:
    """Names become directory names: refuse anything but plain ones."""
    if not SAFE.fullmatch(name):
        raise UsageError(f"invalid {kind} name {name!r}",
                         hint="use letters, digits, '.', '_' and '-' (up to 63)")


@dataclass(frozen=True)
class WorkspaceRecord:
    workspace: str
    container: str
    snapshot: str
    created: str
    files: int
    bytes: int
    directories: int = 0
    symlinks: int = 0
    reflinked: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkspaceRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class SnapshotStore:
    def __init__(self, root: Path, owner: Owner | None = None) -> None:
        self.root = root  # ~/.coi/snapshots
        self.owner = owner

    def entry(self, container: str, snapshot: str) -> Path:
        check_name("container", container)
        check_name("snapshot", snapshot)
        return self.root / container / snapshot

    def copy_dir(self, container: str, snapshot: str) -> Path:
        return self.entry(container, snapshot) / COPY

    def load(self, container: str, snapshot: str) -> WorkspaceRecord | None:
        entry = self.entry(container, snapshot)
        with contextlib.suppress(FileNotFoundError):
            record = WorkspaceRecord.from_json(read_record(entry / METADATA, SCHEMA_VERSION))
            return record if (entry / COPY).is_dir() else None
        return None

    def all(self, container: str) -> dict[str, WorkspaceRecord]:
        check_name("container", container)
        found = {}
        for meta in sorted((self.root / container).glob(f"*/{METADATA}")):
            with contextlib.suppress(Exception):  # a damaged record hides only itself
                record = self.load(container, meta.parent.name)
                if record is not None:
                    found[record.snapshot] = record
        return found

    def exists(self, container: str, snapshot: str) -> bool:
        return self.entry(container, snapshot).exists()

    def save(self, workspace: Path, container: str, snapshot: str, created: str) -> WorkspaceRecord:
        """Copy `workspace` in as the workspace part of `container`/`snapshot`."""
        entry = self.entry(container, snapshot)
        make_dirs(entry, self.owner, mode=0o700)
        partial = entry / f".{COPY}.partial-{secrets.token_hex(4)}"
        try:
            with host_errors(f"copy the workspace {workspace}"):
                stats = TreeCopy(skip_top=is_staging).run(workspace, partial)
                os.rename(partial, entry / COPY)
        except BaseException:
            with contextlib.suppress(OSError):
                remove_tree(partial)
            raise
        record = _record(workspace, container, snapshot, created, stats)
        write_record(entry / METADATA, record.to_json(), SCHEMA_VERSION, self.owner)
        return record

    def delete(self, container: str, snapshot: str) -> bool:
        """Remove one entry (renamed away first, so no half-deleted entry looks valid)."""
        entry = self.entry(container, snapshot)
        if not entry.exists():
            return False
        doomed = entry.with_name(f".deleting-{snapshot}-{secrets.token_hex(4)}")
        with host_errors(f"delete {entry}"):
            os.rename(entry, doomed)
            remove_tree(doomed)
        with contextlib.suppress(OSError):
            (self.root / container).rmdir()  # only if now empty
        return True

    def names(self, container: str) -> Iterator[str]:
        check_name("container", container)
        base = self.root / container
        if base.is_dir():
            yield from sorted(p.name for p in base.iterdir() if SAFE.fullmatch(p.name))


def _record(workspace: Path, container: str, snapshot: str, created: str,
            stats: CopyStats) -> WorkspaceRecord:
    return WorkspaceRecord(str(workspace), container, snapshot, created, stats.files,
                           stats.bytes, stats.directories, stats.symlinks, stats.reflinked)
