"""Unpacking a container's tar of tool state: nothing may land outside the staging dir."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from coi.session.extract import extract_state, member_name

ROOT = "/home/code/.claude"


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> io.BytesIO:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        for info, content in members:
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content) if content else None)
    data.seek(0)
    return data


def member(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644,
           link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    return info


def everything_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    path = tmp_path / "sessions" / "state.new"
    path.mkdir(parents=True)
    return path


def test_a_normal_state_tree_arrives(staging: Path) -> None:
    stream = tar_of((member("./", tarfile.DIRTYPE, 0o755), b""),
                    (member("./projects", tarfile.DIRTYPE, 0o700), b""),
                    (member("./projects/-workspace/s.jsonl"), b"{}\n"),
                    (member("./settings.json"), b"{}"))
    result = extract_state(stream, staging, container_root=ROOT)
    assert (staging / "projects/-workspace/s.jsonl").read_bytes() == b"{}\n"
    assert result.skipped == []


def test_escapes_links_and_devices_are_refused(staging: Path, tmp_path: Path) -> None:
    stream = tar_of(
        (member("../escaped"), b"x"),
        (member("/etc/absolute"), b"x"),
        (member("./etc-link", tarfile.SYMTYPE, link="/etc"), b""),
        (member("./up-link", tarfile.SYMTYPE, link="../../.."), b""),
        (member("./hard", tarfile.LNKTYPE, link="/etc/passwd"), b""),
        (member("./null", tarfile.CHRTYPE), b""),
        (member("./fifo", tarfile.FIFOTYPE), b""),
        (member("./through-link/file"), b"x"),
        (member("./ok.txt"), b"fine"),
    )
    before = everything_under(tmp_path)
    result = extract_state(stream, staging, container_root=ROOT)
    created = everything_under(tmp_path) - before
    assert all(p.startswith("sessions/state.new/") for p in created), created
    assert not (tmp_path / "escaped").exists()
    assert not os.path.lexists(staging / "etc-link")
    assert not os.path.lexists(staging / "null") and not os.path.lexists(staging / "fifo")
    assert (staging / "ok.txt").read_text() == "fine"
    assert len(result.skipped) >= 6


def test_set_id_bits_are_stripped(staging: Path) -> None:
    extract_state(tar_of((member("./tool", mode=0o6755), b"#!")), staging,
                  container_root=ROOT)
    mode = os.lstat(staging / "tool").st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID)
    assert mode & stat.S_IXUSR


def test_absolute_links_inside_the_state_dir_become_relative(staging: Path) -> None:
    stream = tar_of((member("./debug/x.txt"), b"log"),
                    (member("./debug/latest", tarfile.SYMTYPE, link=f"{ROOT}/debug/x.txt"), b""))
    extract_state(stream, staging, container_root=ROOT)
    link = staging / "debug" / "latest"
    assert os.readlink(link) == "x.txt"
    assert link.read_text() == "log"


def test_credentials_are_dropped(staging: Path) -> None:
    stream = tar_of((member("./.credentials.json"), b"secret"), (member("./a"), b"1"))
    extract_state(stream, staging, container_root=ROOT,
                  drop=frozenset({".credentials.json"}))
    assert everything_under(staging) == {"a"}


def test_member_names_lose_the_dot_prefix() -> None:
    assert member_name("./a/b/") == "a/b"
    assert member_name(".") == ""
    assert member_name("./") == ""


def test_links_out_of_a_pulled_tree_are_dropped(tmp_path: Path) -> None:
    from coi.session.save import drop_escaping_links

    root = tmp_path / "state"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "file").write_text("x")
    os.symlink("file", root / "sub" / "inside")
    os.symlink("../sub/file", root / "sub" / "up-and-in")
    os.symlink("/etc", root / "absolute")
    os.symlink("../../outside", root / "sub" / "escapes")
    drop_escaping_links(root)
    assert sorted(p.name for p in root.rglob("*")) == ["file", "inside", "sub", "up-and-in"]
