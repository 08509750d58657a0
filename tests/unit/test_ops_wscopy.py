"""The workspace copy (reflink or full copy, never following links) and its exact restore."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from coi.ops import wsrestore
from coi.ops.wscopy import TreeCopy, copy_data, remove_tree

pytestmark = pytest.mark.timeout(60)  # a fifo read by mistake would block forever


def state(root: Path) -> dict[str, tuple[str, int, bytes, int]]:
    """Every entry below and including root: kind, mode, content or target, mtime."""
    found = {".": ("dir", stat.S_IMODE(root.lstat().st_mode), b"", 0)}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(top) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", 0, os.readlink(path).encode(), 0)
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", stat.S_IMODE(info.st_mode), b"", info.st_mtime_ns)
            elif stat.S_ISFIFO(info.st_mode):
                found[rel] = ("fifo", stat.S_IMODE(info.st_mode), b"", info.st_mtime_ns)
            else:
                found[rel] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes(),
                              info.st_mtime_ns)
    return found


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("print('hi')\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / "big.bin").write_bytes(os.urandom(300_000))
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o751)
    (root / "empty").write_bytes(b"")
    (root / "src" / "locked").mkdir(mode=0o500)
    (root / "link-in").symlink_to("src/pkg/mod.py")
    (root / "escape").symlink_to("/etc")
    (root / "dangling").symlink_to("does/not/exist")
    os.link(root / "big.bin", root / "src" / "hard.bin")
    os.mkfifo(root / "pipe")
    os.utime(root / "run.sh", ns=(1_000_000_000, 1_500_000_000_000_000_000))
    return root


def test_copy_is_exact_and_independent(tree: Path, tmp_path: Path) -> None:
    stats = TreeCopy().run(tree, tmp_path / "copy")
    copy = tmp_path / "copy"
    assert state(copy) == state(tree)
    assert (stats.files, stats.symlinks, stats.directories) == (6, 3, 3)
    assert stats.bytes == 300_000 + len("print('hi')\n") + len("SECRET=1\n") + len("#!/bin/sh\n")
    # a true copy: no inode shared with the workspace
    assert (copy / "big.bin").stat().st_ino != (tree / "big.bin").stat().st_ino
    (tree / ".env").write_text("changed\n")
    assert (copy / ".env").read_text() == "SECRET=1\n"
    # a hard link inside the tree stays a hard link inside the copy
    assert (copy / "big.bin").stat().st_ino == (copy / "src" / "hard.bin").stat().st_ino
    assert stat.S_ISFIFO((copy / "pipe").lstat().st_mode)


def test_symlinks_are_never_followed(tree: Path, tmp_path: Path) -> None:
    TreeCopy().run(tree, tmp_path / "copy")
    copy = tmp_path / "copy"
    assert (copy / "escape").is_symlink() and os.readlink(copy / "escape") == "/etc"
    copied = [name for _, _, files in os.walk(copy) for name in files]  # links not followed
    assert "passwd" not in copied and "hostname" not in copied


def test_reflink_is_used_when_the_filesystem_can(tree: Path, tmp_path: Path) -> None:
    cloned = []

    def clone(src: int, dst: int) -> None:
        cloned.append(os.fstat(src).st_size)
        copy_data(src, dst)  # stands in for the kernel sharing the blocks

    stats = TreeCopy(clone=clone).run(tree, tmp_path / "copy")
    assert stats.reflinked == len(cloned) == 4  # not the empty file, not the hard link
    assert state(tmp_path / "copy") == state(tree)


@pytest.mark.parametrize("err", [errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY])
def test_falls_back_to_a_full_copy_and_stops_asking(tree: Path, tmp_path: Path,
                                                     err: int) -> None:
    calls = []

    def refuse(src: int, dst: int) -> None:
        calls.append(src)
        raise OSError(err, os.strerror(err))

    stats = TreeCopy(clone=refuse).run(tree, tmp_path / "copy")
    assert state(tmp_path / "copy") == state(tree)
    assert stats.reflinked == 0
    assert len(calls) == 1


def test_a_real_io_error_is_not_mistaken_for_no_reflink(tree: Path, tmp_path: Path) -> None:
    def broken(src: int, dst: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OSError, match="I/O error"):
        TreeCopy(clone=broken).run(tree, tmp_path / "copy")


def test_skip_top_leaves_out_staging_directories(tree: Path, tmp_path: Path) -> None:
    (tree / ".coi-restore-abcd").mkdir()
    (tree / "src" / ".coi-restore-deep").mkdir()
    TreeCopy(skip_top=wsrestore.is_staging).run(tree, tmp_path / "copy")
    assert not (tmp_path / "copy" / ".coi-restore-abcd").exists()
    assert (tmp_path / "copy" / "src" / ".coi-restore-deep").is_dir()


def test_restore_is_exact(tree: Path, tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    TreeCopy().run(tree, saved)
    before = state(tree)
    (tree / ".env").unlink()
    (tree / "src" / "pkg" / "mod.py").write_text("edited\n")
    (tree / "new.txt").write_text("agent made this\n")
    (tree / "run.sh").chmod(0o600)
    (tree / "escape").unlink()
    (tree / "escape").mkdir()
    remove_tree(tree / "src" / "locked")
    tree.chmod(0o700)
    cwd_inode = tree.stat().st_ino
    stats = wsrestore.restore_tree(saved, tree, "snap", "pre-restore-x")
    assert state(tree) == before
    assert tree.stat().st_ino == cwd_inode  # the directory itself stays (bind mount source)
    assert stats.files == 6
    assert wsrestore.leftovers(tree) == []


def test_leftovers_of_an_interrupted_restore_are_described_and_removed(tree: Path) -> None:
    staging = tree / ".coi-restore-dead"
    (staging / "old" / "ro").mkdir(parents=True)
    (staging / "old" / "ro" / "f").write_text("x")
    (staging / "old" / "ro").chmod(0o500)
    (staging / "coi-restore.json").write_text(json.dumps(
        {"snapshot": "s1", "pre_restore": "pre-restore-1"}))
    assert wsrestore.leftovers(tree) == [staging]
    assert wsrestore.remove_leftovers(tree) == [
        ".coi-restore-dead (restore of s1; before it: pre-restore-1)"]
    assert not staging.exists()


def test_remove_tree_handles_read_only_directories(tmp_path: Path) -> None:
    top = tmp_path / "t"
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "f").write_text("x")
    (top / "a" / "b").chmod(0o500)
    (top / "a").chmod(0o500)
    remove_tree(top)
    assert not top.exists()
