"""`coi health`'s monitoring checks: each source present or not, and what is lost."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from coi.host import health_monitor as hm
from coi.host.health import Status
from coi.monitor.netlink import KernelSourceError


class Probe:
    def __init__(self, cgroup_root: Path = Path("/sys/fs/cgroup")) -> None:
        self.cgroup_root = cgroup_root


P: Any = Probe()


def test_proc_readable_or_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = tmp_path / "proc"
    (proc / "1" / "fd").mkdir(parents=True)
    (proc / "1" / "io").write_text("rchar: 1\n")
    monkeypatch.setattr(os, "geteuid", lambda: 4242)  # pid 1 belongs to "another user"
    assert hm.check_proc(P, proc).status is Status.OK
    (proc / "1" / "io").unlink()
    res = hm.check_proc(P, proc)
    assert res.status is Status.WARN and "reverse shells by socket descriptor" in res.message
    assert res.fix and "sudo" in res.fix


def test_cgroup_layouts(tmp_path: Path) -> None:
    assert hm.check_cgroup(Probe(tmp_path)).status is Status.WARN  # type: ignore[arg-type]
    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cgroup.procs").write_text("")
    hybrid = hm.check_cgroup(Probe(tmp_path))  # type: ignore[arg-type]
    assert hybrid.status is Status.OK and hybrid.details["layout"] == "hybrid"
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    assert hm.check_cgroup(Probe(tmp_path)).details["layout"] == "v2"  # type: ignore[arg-type]


@pytest.mark.parametrize("module,check", [("coi.monitor.execwatch", hm.check_exec),
                                          ("coi.monitor.nflog", hm.check_nflog),
                                          ("coi.monitor.nftwatch", hm.check_nftwatch)])
def test_a_source_missing_from_the_build(monkeypatch: pytest.MonkeyPatch, module: str,
                                         check: Any) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    res = check(P)
    assert res.status is Status.WARN and hm.NOT_BUILT in res.message


def test_kernel_sources_that_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    from coi.monitor import execwatch, nflog, nftwatch

    def refuse(*_: object, **__: object) -> None:
        raise KernelSourceError("needs root (CAP_NET_ADMIN)")

    monkeypatch.setattr(execwatch, "ExecWatch", refuse)
    monkeypatch.setattr(nftwatch, "NftWatch", refuse)
    monkeypatch.setattr(nflog, "NflogSocket", refuse)
    for check, lost in ((hm.check_exec, "between two polls"),
                        (hm.check_nflog, "network events"),
                        (hm.check_nftwatch, "periodic check only")):
        res = check(P)
        assert res.status is Status.WARN and "needs root" in res.message, res
        assert lost in res.message


def test_a_taken_nflog_group_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from coi.monitor import nflog

    tried: list[int] = []

    class Sock:
        def __init__(self, group: int) -> None:
            tried.append(group)
            if len(tried) < 3:
                raise KernelSourceError(f"nflog group {group} is taken by another listener")

        def close(self) -> None:
            pass

    monkeypatch.setattr(nflog, "NflogSocket", Sock)
    res = hm.check_nflog(P)
    assert res.status is Status.OK and len(tried) == 3 and res.details["group"] == tried[-1]


def test_on_this_host_every_check_answers() -> None:
    for name, check in hm.CHECKS:
        res = check(P)
        assert res.name == name and res.status in (Status.OK, Status.WARN)
        assert res.message
