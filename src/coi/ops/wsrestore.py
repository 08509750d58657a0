"""Put a saved copy of a workspace back, exactly, without replacing the directory itself
(it is the bind mount's source, and perhaps someone's current directory).

The copy is first made in full in a staging directory inside the workspace (same
filesystem: renames are atomic and reflinks work), then the contents are swapped:
every current entry moves to staging/old, every saved one moves in, and staging goes.
Only the swap is not atomic as a whole. If coi dies during it, the staging directory
`.coi-restore-*` is left behind with a note naming the snapshot; the next restore
removes it, and the state from before is in the pre-restore snapshot taken first.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from coi.ops.wscopy import CopyStats, TreeCopy, remove_tree

STAGING_PREFIX = ".coi-restore-"
NOTE = "coi-restore.json"


def is_staging(name: str) -> bool:
    return name.startswith(STAGING_PREFIX)


def leftovers(workspace: Path) -> list[Path]:
    """Staging directories of interrupted restores."""
    with os.scandir(workspace) as scan:
        return sorted(Path(e.path) for e in scan
                      if is_staging(e.name) and e.is_dir(follow_symlinks=False))


def describe_leftover(path: Path) -> str:
    try:
        note = json.loads((path / NOTE).read_text())
        return f"{path.name} (restore of {note['snapshot']}; before it: {note['pre_restore']})"
    except (OSError, ValueError, KeyError, TypeError):
        return path.name


def remove_leftovers(workspace: Path) -> list[str]:
    removed = []
    for path in leftovers(workspace):
        removed.append(describe_leftover(path))
        remove_tree(path)
    return removed


def restore_tree(saved: Path, workspace: Path, snapshot: str, pre_restore: str) -> CopyStats:
    """Make `workspace` hold exactly what `saved` holds."""
    staging = workspace / f"{STAGING_PREFIX}{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    (staging / NOTE).write_text(json.dumps({"snapshot": snapshot, "pre_restore": pre_restore}))
    stats = TreeCopy().run(saved, staging / "new")
    old = staging / "old"
    old.mkdir(mode=0o700)
    ws_fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _swap(ws_fd, staging, _entries(ws_fd))
        _copy_root_meta(staging / "new", ws_fd)
    finally:
        os.close(ws_fd)
    remove_tree(staging)
    return stats


def _entries(ws_fd: int) -> list[str]:
    with os.scandir(ws_fd) as scan:
        return sorted(e.name for e in scan if not is_staging(e.name))


def _swap(ws_fd: int, staging: Path, current: list[str]) -> None:
    for name in current:
        _move(ws_fd, name, f"{staging.name}/old/{name}")
    with os.scandir(staging / "new") as scan:
        incoming = sorted(e.name for e in scan)
    for name in incoming:
        _move(ws_fd, f"{staging.name}/new/{name}", name)


def _move(ws_fd: int, src: str, dst: str) -> None:
    """Rename within the workspace. Moving a directory to another parent needs write
    permission on it (its `..` changes): lend u+w to a read-only one for the move."""
    try:
        os.rename(src, dst, src_dir_fd=ws_fd, dst_dir_fd=ws_fd)
        return
    except PermissionError:
        info = os.stat(src, dir_fd=ws_fd, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode) or info.st_mode & stat.S_IWUSR:
            raise
    os.chmod(src, stat.S_IMODE(info.st_mode) | stat.S_IWUSR, dir_fd=ws_fd)
    os.rename(src, dst, src_dir_fd=ws_fd, dst_dir_fd=ws_fd)
    os.chmod(dst, stat.S_IMODE(info.st_mode), dir_fd=ws_fd)


def _copy_root_meta(saved_root: Path, ws_fd: int) -> None:
    info = os.stat(saved_root, follow_symlinks=False)
    if os.geteuid() == 0:
        os.fchown(ws_fd, info.st_uid, info.st_gid)
    os.fchmod(ws_fd, stat.S_IMODE(info.st_mode))
    os.utime(ws_fd, ns=(info.st_atime_ns, info.st_mtime_ns))
