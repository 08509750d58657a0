"""Host-side mount operations for protected paths, done without following symlinks.

Paths are walked one component at a time with O_PATH|O_NOFOLLOW, and mount(2) is handed
`/proc/self/fd/N` so the kernel binds exactly the inode that was checked (no window for
a symlink swapped in by another process). Needs root (CAP_SYS_ADMIN on the host).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from coi.errors import PolicyError

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2
MAX_SCAN = 20000

_libc = ctypes.CDLL(None, use_errno=True)


def _fd_path(fd: int) -> bytes:
    return f"/proc/self/fd/{fd}".encode()


def _mount(src: bytes | None, target: bytes, flags: int, what: str) -> None:
    if _libc.mount(src, target, None, ctypes.c_ulong(flags), None) != 0:
        err = ctypes.get_errno()
        raise PolicyError(f"cannot {what}: {os.strerror(err)}",
                          hint="protected paths need coi to run as root on this host")


def umount_tree(path: Path) -> bool:
    """Lazily detach `path` and every mount below it. False if nothing was mounted."""
    if _libc.umount2(str(path).encode(), MNT_DETACH) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 2):  # EINVAL: not a mount point; ENOENT: gone already
        return False
    raise PolicyError(f"cannot unmount {path}: {os.strerror(err)}")


def bind_private(source: Path, target: Path) -> None:
    """Bind `source` (the workspace) at `target` as a private mount of its own."""
    with open_path(source) as src, open_path(target) as dst:
        _mount(_fd_path(src), _fd_path(dst), MS_BIND, f"bind {source} at {target}")
    _mount(None, str(target).encode(), MS_PRIVATE | MS_REC, f"make {target} private")


@contextlib.contextmanager
def open_path(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_beneath(root: Path, rel: str) -> Iterator[int]:
    """An O_PATH fd of `root/rel`, refusing a symlink in any component."""
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for part in rel.split("/"):
            nxt = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise PolicyError(f"{rel}: a symlink appeared in the workspace while coi "
                                  "was protecting it; refusing to follow it")
        yield fd
    finally:
        os.close(fd)


def self_bind(root: Path, rel: str, readonly: bool) -> None:
    """Bind `root/rel` onto itself (a mount point: cannot be renamed or removed), and
    with `readonly` make that mount read-only, nosuid, nodev."""
    with open_beneath(root, rel) as fd:
        _mount(_fd_path(fd), _fd_path(fd), MS_BIND, f"bind {rel}")
    if readonly:
        _remount_ro(root, rel)


def mask(root: Path, rel: str, stand_in: Path) -> None:
    """Cover `root/rel` with an empty, read-only `stand_in` (a file or a directory)."""
    with open_path(stand_in) as src, open_beneath(root, rel) as dst:
        _mount(_fd_path(src), _fd_path(dst), MS_BIND, f"mask {rel}")
    _remount_ro(root, rel)


def _remount_ro(root: Path, rel: str) -> None:
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    with open_beneath(root, rel) as fd:  # opened again: now the new mount's root
        _mount(None, _fd_path(fd), flags, f"make {rel} read-only")
        if not os.fstatvfs(fd).f_flag & os.ST_RDONLY:
            raise PolicyError(f"{rel} is still writable after a read-only remount")


def refuse_hardlinks(root: Path, rel: str) -> None:
    """A protected file with a second hard link elsewhere in the workspace could be
    changed through that link: refuse (nothing is bind-mounted yet)."""
    with open_beneath(root, rel) as fd:
        info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        raise _linked(rel)
    if stat.S_ISDIR(info.st_mode):
        seen = 0
        for top, _dirs, files in os.walk(root / rel):
            for name in files:
                seen += 1
                entry = os.lstat(os.path.join(top, name))
                if (stat.S_ISREG(entry.st_mode) and entry.st_nlink > 1) or seen > MAX_SCAN:
                    raise _linked(os.path.relpath(os.path.join(top, name), root))


def _linked(rel: str) -> PolicyError:
    return PolicyError(f"protected file {rel} has more than one hard link, so it could be "
                       "changed through the other link",
                       hint=f"replace it with a copy (cp {rel} x && mv x {rel})")


def create_placeholder(root: Path, rel: str, is_dir: bool, content: bytes,
                       owner: tuple[int, int]) -> None:
    """Create `root/rel` (its parent exists) exclusively, owned by the workspace owner."""
    parent, _, name = rel.rpartition("/")
    with open_dir(root, parent) as dfd:
        if is_dir:
            os.mkdir(name, 0o755, dir_fd=dfd)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
        else:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         0o644, dir_fd=dfd)
            os.write(fd, content)
        try:
            os.fchown(fd, *owner)
        finally:
            os.close(fd)


@contextlib.contextmanager
def open_dir(root: Path, rel: str) -> Iterator[int]:
    """A real (O_RDONLY) directory fd of `root/rel`, no symlinks followed."""
    if not rel:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    else:
        with open_beneath(root, rel) as pfd:
            fd = os.open(_fd_path(pfd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)
