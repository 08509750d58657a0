"""The owner mapping of a session container, the no-set-id seccomp policy, the hand-back."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from coi.session.ownership import (
    OwnerMapping,
    count_changed,
    mapping_for,
    no_setid_policy,
    reclaim_script,
)


@pytest.mark.parametrize("owner", [1000, 1234])
def test_a_user_owned_workspace_maps_its_owner_to_code_without_seccomp(owner: int) -> None:
    config = OwnerMapping(owner, 1000).config()
    assert config == {"raw.idmap": f"both {owner} 1000"}


def test_a_root_owned_workspace_keeps_root_and_refuses_set_id_bits() -> None:
    config = OwnerMapping(0, 1000).config()
    assert config["raw.idmap"] == "both 0 1000"
    assert config["raw.seccomp"] == no_setid_policy()


def test_the_code_uid_comes_from_config() -> None:
    assert OwnerMapping(1234, 2000).config()["raw.idmap"] == "both 1234 2000"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_mapping_reads_the_workspace_owner(tmp_path: Path) -> None:
    os.chown(tmp_path, 1234, 1234)
    assert mapping_for(str(tmp_path), 1000) == OwnerMapping(1234, 1000)


def test_policy_keeps_incus_defaults_and_blocks_every_mode_syscall() -> None:
    text = no_setid_policy()
    lines = text.splitlines()
    assert lines[:2] == ["2", "denylist"]
    assert "[all]" in lines, "rules must apply to every architecture (no 32-bit bypass)"
    for default in ("kexec_load errno 38", "open_by_handle_at errno 38",
                    "mknod notify [1,8192,SCMP_CMP_MASKED_EQ,61440]"):
        assert default in lines
    expected = {"chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2, "open": 2,
                "openat": 3, "creat": 1, "mknod": 1, "mknodat": 2}
    for name, index in expected.items():
        for bit in (2048, 1024):  # S_ISUID, S_ISGID
            assert f"{name} errno 1 [{index},{bit},SCMP_CMP_MASKED_EQ,{bit}]" in lines
    for name in ("openat2", "io_uring_setup"):
        assert f"{name} errno 38" in lines
    assert text.endswith("\n")
    assert all(re.fullmatch(r"[\w\[\],. ]+", line) for line in lines), "no stray syntax"


def test_reclaim_never_follows_links_and_stays_on_the_workspace() -> None:
    script = reclaim_script(1000)
    assert script[:3] == ["find", "/workspace", "-xdev"]
    assert "-L" not in script and "-follow" not in script
    assert script[script.index("chown"):] == ["chown", "-h", "-c", "1000:1000", "{}", "+"]
    assert "65534" in script  # unmapped owners cannot be changed from inside


def test_changed_files_are_counted_from_chown_output() -> None:
    out = (b"changed ownership of '/workspace/a' from root:root to code:code\n"
           b"changed ownership of '/workspace/b' from 0:0 to 1000:1000\n")
    assert count_changed(out) == 2
    assert count_changed(b"") == 0
