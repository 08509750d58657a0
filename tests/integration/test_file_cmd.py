"""`coi file push` / `pull` against a real container: trees, modes, symlinks, errors."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.incus.client import Client
from tests.integration.test_container_cmd_support import coi, container, lt_name, tree_state


@pytest.fixture(scope="module")
def box(incus: Client) -> Iterator[str]:
    with container(incus) as name:
        yield name


def make_tree(root: Path) -> None:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "bin" / "run.sh").chmod(0o750)
    (root / "secret.txt").write_bytes(b"\x00\xffsecret")
    (root / "secret.txt").chmod(0o600)
    (root / "private").mkdir(mode=0o700)
    (root / "private" / "notes").write_text("n\n")
    (root / "link-to-run").symlink_to("bin/run.sh")


def test_push_and_pull_a_tree_keep_content_modes_and_links(box: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    pushed = coi("file", "push", "-r", str(src), f"{box}:/root/tree")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.startswith("Pushed 3 files, 2 directories, 1 symlink:")
    listing = coi("container", "exec", box, "--", "stat", "-c", "%a %F %n",
                  "/root/tree/bin/run.sh", "/root/tree/private", "/root/tree/link-to-run")
    assert listing.stdout.splitlines() == ["750 regular file /root/tree/bin/run.sh",
                                           "700 directory /root/tree/private",
                                           "777 symbolic link /root/tree/link-to-run"]
    dest = tmp_path / "back"
    dest.mkdir()
    pulled = coi("file", "pull", "-r", f"{box}:/root/tree", str(dest))
    assert pulled.returncode == 0, pulled.stderr
    assert tree_state(dest / "tree") == tree_state(src)  # cp-like: into the existing dir


def test_push_and_pull_one_file(box: str, tmp_path: Path) -> None:
    one = tmp_path / "one.bin"
    one.write_bytes(bytes(range(256)))
    one.chmod(0o640)
    assert coi("file", "push", str(one), f"{box}:/tmp/").returncode == 0
    assert coi("file", "pull", f"{box}:/tmp/one.bin", str(tmp_path / "copy")).returncode == 0
    copy = tmp_path / "copy"
    assert copy.read_bytes() == bytes(range(256))
    assert stat.S_IMODE(copy.stat().st_mode) == 0o640


def test_pull_copies_a_symlink_to_etc_as_a_link_and_writes_only_below_dest(
        box: str, tmp_path: Path) -> None:
    made = coi("container", "exec", box, "--", "sh", "-c",
               "mkdir -p /root/evil && echo data > /root/evil/file && "
               "ln -s /etc /root/evil/etc && ln -s ../../../../etc/passwd /root/evil/up")
    assert made.returncode == 0, made.stderr
    outside = tmp_path / "outside"
    outside.mkdir()
    before = {p: p.stat().st_mtime_ns for p in (Path("/etc"), Path("/etc/passwd"), outside)}
    dest = tmp_path / "dest"
    pulled = coi("file", "pull", "-r", f"{box}:/root/evil", str(dest))
    assert pulled.returncode == 0, pulled.stderr
    assert sorted(os.listdir(dest)) == ["etc", "file", "up"]
    assert os.readlink(dest / "etc") == "/etc"
    assert (dest / "up").is_symlink()
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert os.listdir(outside) == []


def test_pull_refuses_to_write_a_tree_through_a_symlink_at_dest(
        box: str, tmp_path: Path) -> None:
    coi("container", "exec", box, "--", "mkdir", "-p", "/root/plain")
    target = tmp_path / "elsewhere"
    target.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "plain").symlink_to(target)
    result = coi("file", "pull", "-r", f"{box}:/root/plain", str(dest))
    assert result.returncode == 9 and "symlink" in result.stderr
    assert os.listdir(target) == []


@pytest.mark.parametrize("spec", ["nocolon", ":/path", "box:relative/path", "bad_name!:/x"])
def test_a_malformed_container_path_names_the_form(spec: str, tmp_path: Path) -> None:
    result = coi("file", "pull", spec, str(tmp_path))
    assert result.returncode == 2
    assert "CONTAINER:PATH" in result.stderr


def test_a_directory_without_r_is_refused(box: str, tmp_path: Path) -> None:
    push = coi("file", "push", str(tmp_path), f"{box}:/tmp/x")
    pull = coi("file", "pull", f"{box}:/etc", str(tmp_path))
    assert (push.returncode, pull.returncode) == (2, 2)
    assert "-r" in push.stderr and "-r" in pull.stderr


def test_missing_things_are_not_found(box: str, tmp_path: Path) -> None:
    results = [coi("file", "pull", f"{box}:/no/such/file", str(tmp_path)),
               coi("file", "pull", f"{lt_name('-gone')}:/etc/hostname", str(tmp_path)),
               coi("file", "push", str(tmp_path / "nope"), f"{box}:/tmp/"),
               coi("file", "push", __file__, f"{box}:/no/such/dir/x")]
    assert [r.returncode for r in results] == [5, 5, 5, 5]
    assert "no container named" in results[1].stderr
