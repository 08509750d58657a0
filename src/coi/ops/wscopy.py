"""A true copy of a directory tree: reflinks where the filesystem has them, else a full
copy; never a hard link to the source, never following a symlink.

Every path below the roots is opened relative to a directory descriptor with O_NOFOLLOW,
so a symlink in the tree (even one swapped in meanwhile) is copied as a link and never
leads the copy out of the tree. Modes, times and (as root) owners are kept; hard links
inside the tree stay linked in the copy; fifos are recreated; sockets and devices are
skipped and listed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS,
            errno.EPERM, errno.EBADF}
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
Clone = Callable[[int, int], None]


def ficlone(src_fd: int, dst_fd: int) -> None:
    fcntl.ioctl(dst_fd, FICLONE, src_fd)


@dataclass
class CopyStats:
    files: int = 0
    directories: int = 0
    symlinks: int = 0
    bytes: int = 0
    reflinked: int = 0  # files that share their blocks with the source
    skipped: list[str] = field(default_factory=list)


class TreeCopy:
    """Copy one tree. `clone` is the reflink call (injectable for tests); after its first
    "not supported" it is not tried again."""

    def __init__(self, clone: Clone | None = ficlone,
                 skip_top: Callable[[str], bool] | None = None) -> None:
        self.clone = clone
        self.skip_top = skip_top or (lambda name: False)
        self.keep_owner = os.geteuid() == 0
        self.stats = CopyStats()
        self._inodes: dict[tuple[int, int], str] = {}
        self._dst_root = -1

    def run(self, src: Path, dst: Path) -> CopyStats:
        """Copy directory `src` to the new directory `dst` (which must not exist)."""
        os.mkdir(dst, 0o700)
        src_fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        dst_fd = os.open(dst, DIR_FLAGS)
        self._dst_root = dst_fd
        try:
            self._copy_dir(src_fd, dst_fd, "")
            self._finish(src_fd, dst_fd, os.fstat(src_fd))
        finally:
            os.close(src_fd)
            os.close(dst_fd)
        return self.stats

    def _copy_dir(self, src_fd: int, dst_fd: int, rel: str) -> None:
        with os.scandir(src_fd) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            if not rel and self.skip_top(entry.name):
                continue
            info = entry.stat(follow_symlinks=False)
            self._copy_entry(src_fd, dst_fd, entry.name, info, f"{rel}{entry.name}")

    def _copy_entry(self, src_fd: int, dst_fd: int, name: str, info: os.stat_result,
                    rel: str) -> None:
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dst_fd)
            sub_src = os.open(name, DIR_FLAGS, dir_fd=src_fd)
            sub_dst = os.open(name, DIR_FLAGS, dir_fd=dst_fd)
            try:
                self._copy_dir(sub_src, sub_dst, rel + "/")
                self._finish(sub_src, sub_dst, info)
            finally:
                os.close(sub_src)
                os.close(sub_dst)
            self.stats.directories += 1
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_fd)
            self._meta_nofollow(dst_fd, name, info)
            self.stats.symlinks += 1
        elif stat.S_ISREG(mode):
            self._copy_file(src_fd, dst_fd, name, info, rel)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(name, stat.S_IMODE(mode), dir_fd=dst_fd)
            self._meta_nofollow(dst_fd, name, info)
        else:
            self.stats.skipped.append(f"{rel} (socket or device)")

    def _copy_file(self, src_fd: int, dst_fd: int, name: str, info: os.stat_result,
                   rel: str) -> None:
        key = (info.st_dev, info.st_ino)
        if info.st_nlink > 1 and key in self._inodes:
            # A hard link inside the copy (both paths are below the new root).
            os.link(self._inodes[key], rel, src_dir_fd=self._dst_root,
                    dst_dir_fd=self._dst_root, follow_symlinks=False)
            self.stats.files += 1
            return
        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            dst = os.open(name, flags, 0o600, dir_fd=dst_fd)
            try:
                self._copy_data(src, dst, info.st_size)
                if self.keep_owner:
                    os.fchown(dst, info.st_uid, info.st_gid)
                os.fchmod(dst, stat.S_IMODE(info.st_mode))
                os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
            finally:
                os.close(dst)
        finally:
            os.close(src)
        if info.st_nlink > 1:
            self._inodes[key] = rel
        self.stats.files += 1
        self.stats.bytes += info.st_size

    def _copy_data(self, src: int, dst: int, size: int) -> None:
        if self.clone is not None and size:
            try:
                self.clone(src, dst)
                self.stats.reflinked += 1
                return
            except OSError as exc:
                if exc.errno not in NO_CLONE:
                    raise
                self.clone = None  # this filesystem cannot: stop asking
        copy_data(src, dst)

    def _finish(self, src_fd: int, dst_fd: int, info: os.stat_result) -> None:
        """A directory's own metadata, set after its content (which changes its mtime)."""
        if self.keep_owner:
            os.fchown(dst_fd, info.st_uid, info.st_gid)
        os.fchmod(dst_fd, stat.S_IMODE(info.st_mode))
        os.utime(dst_fd, ns=(info.st_atime_ns, info.st_mtime_ns))

    def _meta_nofollow(self, dst_fd: int, name: str, info: os.stat_result) -> None:
        if self.keep_owner:
            os.chown(name, info.st_uid, info.st_gid, dir_fd=dst_fd, follow_symlinks=False)
        with contextlib.suppress(NotImplementedError, OSError):
            os.utime(name, ns=(info.st_atime_ns, info.st_mtime_ns), dir_fd=dst_fd,
                     follow_symlinks=False)


def copy_data(src: int, dst: int) -> None:
    """Copy a whole file: copy_file_range (in-kernel; shares blocks on some filesystems),
    else a plain read/write loop."""
    with contextlib.suppress(OSError):
        while os.copy_file_range(src, dst, 1 << 30):
            pass
        return
    os.lseek(src, 0, os.SEEK_SET)
    os.lseek(dst, 0, os.SEEK_SET)
    os.ftruncate(dst, 0)
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view):]


def remove_tree(path: Path) -> None:
    """Delete a tree we made, read-only directories included (never following links)."""
    def retry(func: Callable[..., object], target: str,
              exc_info: tuple[type[BaseException], BaseException, object]) -> None:
        parent = os.path.dirname(target)
        mode = os.lstat(parent).st_mode
        if not isinstance(exc_info[1], PermissionError) or mode & stat.S_IWUSR:
            raise exc_info[1]
        os.chmod(parent, stat.S_IMODE(mode) | stat.S_IWUSR | stat.S_IXUSR)
        func(target)

    shutil.rmtree(path, onerror=retry)
