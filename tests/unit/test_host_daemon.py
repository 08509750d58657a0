"""Starting incusd without systemd: spawn, pid file, log, and waiting for an answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.errors import IncusUnreachable, SetupError
from coi.host import daemon
from tests.unit.test_host_fakes import FakeClient


@pytest.fixture
def fake_incusd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(daemon, "PID_FILE", tmp_path / "run" / "incusd.pid")
    monkeypatch.setattr(daemon, "LOG_FILE", tmp_path / "log" / "incusd.log")
    script = tmp_path / "incusd"
    monkeypatch.setattr(daemon, "find_incusd", lambda: str(script))
    monkeypatch.setattr(daemon, "group_exists", lambda name="incus-admin": True)
    return script


def test_a_daemon_that_dies_fails_fast_with_its_log(fake_incusd: Path) -> None:
    fake_incusd.write_text("#!/bin/sh\necho \"fatal: cannot mount cgroups ($*)\" >&2\nexit 1\n")
    fake_incusd.chmod(0o755)
    proc = daemon.spawn()
    assert daemon.PID_FILE.read_text() == f"{proc.pid}\n"
    with pytest.raises(SetupError) as err:
        daemon.wait_ready(FakeClient(info=IncusUnreachable("down")), 10, proc)  # type: ignore[arg-type]
    assert "exited with status 1" in str(err.value)
    assert "fatal: cannot mount cgroups (--group incus-admin)" in str(err.value)
    assert not daemon.PID_FILE.exists()
    assert oct(daemon.LOG_FILE.stat().st_mode & 0o777) == "0o600"


def test_waiting_ends_when_the_daemon_answers(fake_incusd: Path) -> None:
    fake_incusd.write_text("#!/bin/sh\nsleep 30\n")
    fake_incusd.chmod(0o755)
    proc = daemon.spawn()
    try:
        client = FakeClient(info=IncusUnreachable("starting"))
        polls = []

        def server_info() -> dict[str, object]:
            polls.append(1)
            if len(polls) < 3:
                raise IncusUnreachable("starting")
            return {"environment": {}}

        client.server_info = server_info  # type: ignore[method-assign]
        daemon.wait_ready(client, 10, proc)  # type: ignore[arg-type]
        assert len(polls) == 3
    finally:
        proc.kill()
        proc.wait()


def test_waiting_times_out(fake_incusd: Path) -> None:
    with pytest.raises(SetupError, match="did not answer within"):
        daemon.wait_ready(FakeClient(info=IncusUnreachable("down")), 0.3, None)  # type: ignore[arg-type]


def test_answer_is_none_only_when_nothing_listens() -> None:
    assert daemon.answer(FakeClient(info=IncusUnreachable("down"))) is None  # type: ignore[arg-type]
    assert daemon.answer(FakeClient()) is not None  # type: ignore[arg-type]
