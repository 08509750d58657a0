"""Limits: parsing, validation before anything is created, Incus keys, enforceability."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi import limits
from coi.config.model import Limits
from coi.errors import PolicyError, UsageError

ALL_OK = {k: limits.Enforceable(True, "x") for k in limits.FLAGS}


@pytest.mark.parametrize("text,seconds", [("2h", 7200), ("45m", 2700), ("1h30m", 5400),
                                          ("90s", 90), ("", None)])
def test_parse_duration(text: str, seconds: int | None) -> None:
    assert limits.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0h", "2d", "h", "1.5h", "-1m"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(UsageError, match="--limit-duration"):
        limits.parse_duration(text)


def test_incus_keys_and_root_device() -> None:
    lim = Limits(cpu="2", cpu_allowance="50%", memory="2GiB", memory_swap=False,
                 disk_read="50MB", disk_write="10MB", processes=100)
    assert limits.instance_config(lim) == {
        "limits.cpu": "2", "limits.cpu.allowance": "50%", "limits.memory": "2GiB",
        "limits.memory.enforce": "hard", "limits.memory.swap": "false",
        "limits.processes": "100"}
    assert limits.root_device(lim, "default") == {
        "type": "disk", "path": "/", "pool": "default", "limits.read": "50MB",
        "limits.write": "10MB"}
    assert limits.instance_config(Limits()) == {} and limits.root_device(Limits(), "p") is None


@pytest.mark.parametrize("lim,flag", [(Limits(cpu="8"), "--limit-cpu 8"),
                                      (Limits(cpu="0-7"), "CPU 7"),
                                      (Limits(memory_swap=False), "--limit-memory")])
def test_validation_names_the_flag(lim: Limits, flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        limits.validate(lim, ALL_OK, cpus=4)


def test_unenforceable_limits_are_refused_not_ignored() -> None:
    found = {**ALL_OK, "disk_write": limits.Enforceable(False, "no io controller")}
    limits.validate(Limits(disk_read="1MB"), found, cpus=4)
    with pytest.raises(PolicyError, match=r"--limit-disk-write \(no io controller"):
        limits.validate(Limits(disk_write="1MB"), found, cpus=4)


def _cgroup_v1(root: Path, missing: str = "") -> Path:
    for directory, name in limits.V1_NEEDS.values():
        if directory != missing:
            (root / directory).mkdir(parents=True, exist_ok=True)
            (root / directory / name).write_text("")
    return root


def test_enforceable_on_cgroup_v1_hybrid(tmp_path: Path) -> None:
    found = limits.enforceable_limits(_cgroup_v1(tmp_path, missing="blkio"))
    assert found["memory"].ok and found["processes"].ok
    assert not found["disk_read"].ok and "blkio" in found["disk_read"].how
    check = limits.check_limits(root=tmp_path)
    assert check.status == "warn" and "--limit-disk-read" in check.message


def test_enforceable_on_cgroup_v2(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    assert all(v.ok for v in limits.enforceable_limits(tmp_path).values())
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    assert not limits.enforceable_limits(tmp_path)["processes"].ok


def test_this_host_reports_every_limit() -> None:
    assert set(limits.enforceable_limits()) == set(limits.FLAGS)
