"""Host-side safety of file transfers: nothing written outside the destination, no
symlink followed, no setuid bit carried over. The container is a fake file tree."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.errors import CoiError, PolicyError
from coi.incus import files, filetree, hostfs
from coi.incus.files import FileInfo, info_from_headers, push_headers
from coi.incus.filetree import link_target, pull_tree

# path -> ("file", content) | ("directory", [entries]) | ("symlink", absolute target)
Tree = dict[str, tuple[str, object]]

TREE: Tree = {
    "/src": ("directory", ["a.txt", "sub", "etc-link", "rel-link", "suid"]),
    "/src/a.txt": ("file", b"hello"),
    "/src/sub": ("directory", ["deep.txt"]),
    "/src/sub/deep.txt": ("file", b"deep"),
    "/src/etc-link": ("symlink", "/etc"),
    "/src/rel-link": ("symlink", "/src/sub/deep.txt"),  # Incus reports targets absolute
    "/src/suid": ("file", b"#!/bin/sh\n"),
}


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Tree:
    """Serve `files.open_path` from a dict instead of a daemon."""
    tree: Tree = dict(TREE)

    def open_path(client: object, name: str, path: str) -> tuple[FileInfo, Iterator[bytes]]:
        kind, value = tree[path]
        mode = 0o4755 if path.endswith("suid") else 0o640 if kind == "file" else 0o755
        info = FileInfo(path, kind, mode, 1000, 1000)
        if kind == "directory":
            return FileInfo(path, kind, mode, 0, 0, entries=tuple(value)), iter(())  # type: ignore[arg-type]
        if kind == "symlink":
            return FileInfo(path, kind, 0o777, 0, 0, target=str(value)), iter(())
        return info, iter([value])  # type: ignore[list-item]

    monkeypatch.setattr(files, "open_path", open_path)
    return tree


def pull(dest: Path, **options: object) -> filetree.TreeStats:
    return pull_tree(None, "c1", "/src", dest, **options)  # type: ignore[arg-type]


def test_pull_copies_files_dirs_and_links(container: Tree, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    stats = pull(dest)
    assert (dest / "a.txt").read_bytes() == b"hello"
    assert (dest / "sub" / "deep.txt").read_bytes() == b"deep"
    assert stat.S_IMODE((dest / "a.txt").stat().st_mode) == 0o640
    assert (stats.files, stats.directories, stats.symlinks) == (3, 1, 2)


def test_pull_never_follows_a_container_symlink(container: Tree, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    pull(dest)
    link = dest / "etc-link"
    assert link.is_symlink() and os.readlink(link) == "/etc"
    # The link inside the tree became relative, so the copy is self-contained.
    assert os.readlink(dest / "rel-link") == "sub/deep.txt"
    assert (dest / "rel-link").read_bytes() == b"deep"


def test_pull_can_skip_symlinks(container: Tree, tmp_path: Path) -> None:
    stats = pull(tmp_path / "out", symlinks="skip")
    assert not (tmp_path / "out" / "etc-link").exists()
    assert not (tmp_path / "out" / "etc-link").is_symlink()
    assert sorted(stats.skipped) == ["/src/etc-link (symlink)", "/src/rel-link (symlink)"]


def test_pull_drops_setuid(container: Tree, tmp_path: Path) -> None:
    pull(tmp_path / "out")
    assert stat.S_IMODE((tmp_path / "out" / "suid").stat().st_mode) == 0o755


@pytest.mark.parametrize("evil", ["..", ".", "a/../../x", "", "x\0y"])
def test_pull_refuses_unsafe_names(container: Tree, tmp_path: Path, evil: str) -> None:
    container["/src"] = ("directory", [evil])
    with pytest.raises(PolicyError, match="unsafe file name"):
        pull(tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_pull_does_not_write_through_symlinks_in_destination(
    container: Tree, tmp_path: Path
) -> None:
    """A destination prepared with links to elsewhere (as a container sharing the
    directory could do) gets the links replaced, not their targets written."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("precious")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "a.txt").symlink_to(outside / "a.txt")
    (dest / "sub").symlink_to(outside)
    pull(dest)
    assert (outside / "a.txt").read_text() == "precious"
    assert sorted(p.name for p in outside.iterdir()) == ["a.txt"]
    assert not (dest / "a.txt").is_symlink() and (dest / "a.txt").read_bytes() == b"hello"
    assert not (dest / "sub").is_symlink() and (dest / "sub" / "deep.txt").exists()


def test_open_dir_refuses_a_symlinked_component(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    root = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.close(hostfs.open_dir(root, ["real"]))
        with pytest.raises(OSError):
            hostfs.open_dir(root, ["link"])
    finally:
        os.close(root)


def test_readonly_directory_gets_its_mode_after_its_content(
    container: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = files.open_path

    def readonly_sub(client: object, name: str, path: str) -> tuple[FileInfo, Iterator[bytes]]:
        info, chunks = real_open(client, name, path)  # type: ignore[arg-type]
        if path == "/src/sub":
            info = FileInfo(info.path, info.type, 0o555, 0, 0, entries=info.entries)
        return info, chunks

    monkeypatch.setattr(files, "open_path", readonly_sub)
    pull(tmp_path / "out")
    assert stat.S_IMODE((tmp_path / "out" / "sub").stat().st_mode) == 0o555
    assert (tmp_path / "out" / "sub" / "deep.txt").read_bytes() == b"deep"


def test_open_source_reports_symlinks_and_refuses_fifos(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "l").symlink_to("/etc/passwd")
    os.mkfifo(tmp_path / "p")
    fd = hostfs.open_source(None, str(tmp_path / "f"))
    assert fd is not None
    os.close(fd)
    assert hostfs.open_source(None, str(tmp_path / "l")) is None
    with pytest.raises(CoiError, match="not a regular file"):
        hostfs.open_source(None, str(tmp_path / "p"))


def test_read_chunks_notices_a_shrinking_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        with pytest.raises(CoiError, match="shrank"):
            list(hostfs.read_chunks(fd, 10))
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("target", "link", "expected"),
    [
        ("/src/sub/f", "/src/l", "sub/f"),
        ("/src/f", "/src/sub/l", "../f"),
        ("/src", "/src/sub/l", ".."),
        ("/etc", "/src/l", "/etc"),
        ("/srcother/f", "/src/l", "/srcother/f"),
        ("/src/../etc", "/src/l", "/etc"),
    ],
)
def test_link_target(target: str, link: str, expected: str) -> None:
    assert link_target(target, link, "/src") == expected


def test_info_from_headers() -> None:
    info = info_from_headers("/f", {"X-Incus-Type": "file", "X-Incus-Mode": "0640",
                                    "X-Incus-Uid": "1000", "X-Incus-Gid": "100"})
    assert (info.type, info.mode, info.uid, info.gid) == ("file", 0o640, 1000, 100)


def test_push_headers() -> None:
    headers = push_headers("file", 0o100755, 1000, 1000, append=True, length=5)
    assert headers["X-Incus-mode"] == "0755"  # the file-type bits are not sent
    assert headers["X-Incus-write"] == "append"
    assert headers["Content-Length"] == "5"
    assert (headers["X-Incus-uid"], headers["X-Incus-type"]) == ("1000", "file")
