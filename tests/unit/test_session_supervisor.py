"""The run lock (is_supervised), handing it to a child, and the supervisor's command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coi.cli.main import cli
from coi.errors import AlreadyExists
from coi.session import runlock
from coi.session.daemon import spec_args
from coi.session.paths import run_lock_path
from coi.session.runlock import is_supervised
from coi.session.supervisor import SupervisorSpec

HOLD = """
import sys, time
from pathlib import Path
from coi.session import runlock
fd = runlock.acquire(Path(sys.argv[1]), "c-1")
print("held", flush=True)
sys.stdin.read()
"""


def test_is_supervised_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    assert not is_supervised(tmp_path, "c-1"), "no file: nobody"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert is_supervised(tmp_path, "c-1")
        with pytest.raises(AlreadyExists, match="another coi process looks after c-1"):
            runlock.acquire(tmp_path, "c-1")
    finally:
        holder.communicate("")
    assert not is_supervised(tmp_path, "c-1"), "the kernel drops it with the process"


def test_the_lock_passes_to_a_child_without_a_gap(tmp_path: Path) -> None:
    fd = runlock.acquire(tmp_path, "c-1")
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE, pass_fds=(fd,))
    runlock.release(fd)  # the parent lets go; the child's copy holds on
    try:
        assert is_supervised(tmp_path, "c-1")
    finally:
        child.communicate(b"")
    assert not is_supervised(tmp_path, "c-1")


def test_release_with_the_path_removes_the_file(tmp_path: Path) -> None:
    fd = runlock.acquire(tmp_path, "c-1")
    runlock.release_for(fd, tmp_path, "c-1")
    assert not run_lock_path(tmp_path, "c-1").exists()
    runlock.release_for(runlock.acquire(tmp_path, "c-1"), tmp_path, "c-1")


def test_spec_round_trips_through_the_hidden_command(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SupervisorSpec(container="c-1", session_id="s", tool="dummy", coi_home=tmp_path,
                          log_path=tmp_path / "log", remote="lab", project="p", code_uid=1001,
                          home="/home/dev", save_interval=0.5, shutdown_timeout=7,
                          owner=(1000, 1000))
    seen: list[SupervisorSpec] = []
    import coi.session.daemon
    import coi.session.supervisor

    monkeypatch.setattr(coi.session.daemon, "detach", lambda: None)
    monkeypatch.setattr(coi.session.supervisor, "supervise",
                        lambda got, ready=None, lock_fd=None: seen.append(got) or "ok")
    args = ["_supervise", *spec_args(spec), "--lock-fd", "5", "--ready-fd", "6"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert seen == [spec]


def test_internal_commands_are_not_listed() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    assert "_supervise" not in out
    for name in ("shell", "run", "attach"):
        assert f"  {name} " in out
