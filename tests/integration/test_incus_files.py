"""File push and pull against a real container: modes, owners, symlinks, trees."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from pathlib import Path

import pytest

from coi.errors import CoiError, IncusNotFound, NotFound
from coi.incus import files
from coi.incus.client import Client
from coi.incus.exec import run
from coi.incus.filetree import pull_tree, push_tree


@pytest.fixture
def base(incus: Client, shared_container: str) -> str:
    """A fresh directory in the shared container for one test. Not under /tmp: the
    container empties /tmp while it boots (systemd-tmpfiles), racing the first tests."""
    path = f"/srv/coi-files-{uuid.uuid4().hex[:8]}"
    files.mkdir(incus, shared_container, path)
    return path


def sh(incus: Client, name: str, script: str) -> str:
    result = run(incus, name, ["sh", "-c", script])
    assert result.exit_code == 0, result.stderr
    return result.stdout.decode()


def test_write_read_and_stat(incus: Client, shared_container: str, base: str) -> None:
    path = f"{base}/note.txt"
    files.write_file(incus, shared_container, path, b"one\n", mode=0o640, uid=1000, gid=1001)
    files.write_file(incus, shared_container, path, b"two\n", mode=0o640, uid=1000, gid=1001,
                     append=True)
    assert files.read_file(incus, shared_container, path) == b"one\ntwo\n"
    info = files.stat(incus, shared_container, path)
    assert (info.type, info.mode, info.uid, info.gid) == ("file", 0o640, 1000, 1001)
    assert sh(incus, shared_container, f"stat -c '%a %u %g' {path}") == "640 1000 1001\n"


def test_push_file_keeps_mode_and_owner(incus: Client, shared_container: str, base: str,
                                        tmp_path: Path) -> None:
    src = tmp_path / "tool.sh"
    src.write_text("#!/bin/sh\necho hi\n")
    src.chmod(0o750)
    os.chown(src, 1234, 2345)
    files.push_file(incus, shared_container, src, f"{base}/tool.sh")
    assert sh(incus, shared_container, f"stat -c '%a %u %g' {base}/tool.sh") == "750 1234 2345\n"
    assert sh(incus, shared_container, f"{base}/tool.sh") == "hi\n"
    files.push_file(incus, shared_container, src, f"{base}/mine.sh", mode=0o600, uid=0, gid=0)
    assert sh(incus, shared_container, f"stat -c '%a %u %g' {base}/mine.sh") == "600 0 0\n"


def test_large_file_round_trip(incus: Client, shared_container: str, base: str,
                               tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    (tmp_path / "big").write_bytes(data)
    files.push_file(incus, shared_container, tmp_path / "big", f"{base}/big")
    files.pull_file(incus, shared_container, f"{base}/big", tmp_path / "back")
    assert hashlib.sha256((tmp_path / "back").read_bytes()).digest() == (
        hashlib.sha256(data).digest())


def test_pull_file_keeps_mode_and_can_keep_owner(incus: Client, shared_container: str,
                                                 base: str, tmp_path: Path) -> None:
    files.write_file(incus, shared_container, f"{base}/f", b"x", mode=0o751, uid=1000, gid=1000)
    sh(incus, shared_container, f"chmod 4751 {base}/f")  # the file API will not set setuid
    info = files.pull_file(incus, shared_container, f"{base}/f", tmp_path / "f")
    assert info.mode & 0o777 == 0o751  # Incus reports no setuid bit; coi would drop it
    mode = (tmp_path / "f").stat()
    assert stat.S_IMODE(mode.st_mode) == 0o751  # setuid never lands on the host
    assert (mode.st_uid, mode.st_gid) == (os.getuid(), os.getgid())
    files.pull_file(incus, shared_container, f"{base}/f", tmp_path / "g", preserve_owner=True)
    owned = (tmp_path / "g").stat()
    assert (owned.st_uid, owned.st_gid) == (1000, 1000)


def test_symlinks_stay_symlinks_both_ways(incus: Client, shared_container: str, base: str,
                                          tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/etc/shadow")
    files.push_file(incus, shared_container, tmp_path / "link", f"{base}/pushed-link")
    assert sh(incus, shared_container, f"readlink {base}/pushed-link") == "/etc/shadow\n"
    files.symlink(incus, shared_container, f"{base}/etc", "/etc")
    files.symlink(incus, shared_container, f"{base}/etc", "/etc")  # replacing is fine
    info = files.pull_file(incus, shared_container, f"{base}/etc", tmp_path / "etc-copy")
    assert info.type == "symlink"
    assert os.readlink(tmp_path / "etc-copy") == "/etc"


def test_pull_tree_does_not_follow_a_link_to_etc(incus: Client, shared_container: str,
                                                 base: str, tmp_path: Path) -> None:
    sh(incus, shared_container,
       f"mkdir -p {base}/tree/sub && echo a > {base}/tree/a && echo b > {base}/tree/sub/b && "
       f"chmod 600 {base}/tree/sub/b && ln -s /etc {base}/tree/etc && "
       f"ln -s sub/b {base}/tree/b-link && ln -s ../../.. {base}/tree/sub/up")
    dest = tmp_path / "pulled"
    stats = pull_tree(incus, shared_container, f"{base}/tree", dest)
    assert (stats.files, stats.directories, stats.symlinks) == (2, 1, 3)
    assert (dest / "a").read_text() == "a\n"
    assert stat.S_IMODE((dest / "sub" / "b").stat().st_mode) == 0o600
    assert (dest / "etc").is_symlink() and os.readlink(dest / "etc") == "/etc"
    assert os.readlink(dest / "b-link") == "sub/b"
    assert (dest / "sub" / "up").is_symlink()
    written = {str(p.relative_to(dest)) for p in dest.rglob("*")}
    assert written == {"a", "sub", "sub/b", "etc", "b-link", "sub/up"}  # nothing from /etc


def test_push_tree_then_pull_tree(incus: Client, shared_container: str, base: str,
                                  tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d" / "e").mkdir(parents=True)
    (src / "d" / "e" / "deep.txt").write_text("deep")
    (src / "top.txt").write_text("top")
    (src / "top.txt").chmod(0o604)
    (src / "to-top").symlink_to("top.txt")
    (src / "outside").symlink_to("/etc/passwd")
    os.mkfifo(src / "fifo")
    stats = push_tree(incus, shared_container, src, f"{base}/copy")
    assert (stats.files, stats.directories, stats.symlinks) == (2, 2, 2)
    assert stats.skipped == [f"{base}/copy/fifo (special file)"]
    assert sh(incus, shared_container, f"cat {base}/copy/d/e/deep.txt") == "deep"
    assert sh(incus, shared_container, f"readlink {base}/copy/outside") == "/etc/passwd\n"
    assert sh(incus, shared_container, f"stat -c %a {base}/copy/top.txt") == "604\n"
    back = tmp_path / "back"
    pull_tree(incus, shared_container, f"{base}/copy", back)
    assert (back / "d" / "e" / "deep.txt").read_text() == "deep"
    assert os.readlink(back / "to-top") == "top.txt"
    assert os.readlink(back / "outside") == "/etc/passwd"


def test_mkdir_parents_list_and_delete(incus: Client, shared_container: str, base: str) -> None:
    files.mkdir(incus, shared_container, f"{base}/x/y/z", parents=True, mode=0o700)
    assert files.list_dir(incus, shared_container, f"{base}/x") == ["y"]
    files.delete(incus, shared_container, f"{base}/x/y/z")
    assert files.list_dir(incus, shared_container, f"{base}/x/y") == []
    files.delete(incus, shared_container, f"{base}/x/y/z", missing_ok=True)
    with pytest.raises(NotFound):
        files.stat(incus, shared_container, f"{base}/x/y/z")


def test_missing_paths_and_wrong_types(incus: Client, shared_container: str, base: str,
                                       tmp_path: Path) -> None:
    with pytest.raises(IncusNotFound):
        files.read_file(incus, shared_container, f"{base}/nope")
    with pytest.raises(IncusNotFound):
        files.write_file(incus, shared_container, f"{base}/no-dir/f", b"x")
    with pytest.raises(CoiError, match="is a directory"):
        files.pull_file(incus, shared_container, base, tmp_path / "dir")
    with pytest.raises(CoiError, match="cannot read"):
        files.push_file(incus, shared_container, tmp_path / "absent", f"{base}/f")
