"""`coi setup` rendering, root requirement and exit statuses, through the entry point."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from coi.cli import setup as setup_cmd
from coi.cli.errors import run_guarded
from coi.cli.main import cli
from coi.host import setup as host_setup
from coi.host.context import SetupOptions
from coi.host.steps import State, StepEvent


def fake_run(monkeypatch: pytest.MonkeyPatch, events: list[StepEvent]) -> list[Any]:
    seen: list[Any] = []

    def run_setup(options: SetupOptions, dry_run: bool = False) -> Iterator[StepEvent]:
        seen.append((options, dry_run))
        yield from events

    monkeypatch.setattr(host_setup, "run_setup", run_setup)
    monkeypatch.setattr(setup_cmd, "running_as_root", lambda: True)
    return seen


def test_setup_refuses_without_root(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(setup_cmd, "running_as_root", lambda: False)
    assert run_guarded(cli, ["setup"]) == 7
    assert "sudo coi setup" in capsys.readouterr().err


def test_dry_run_needs_no_root(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    seen = fake_run(monkeypatch, [StepEvent("pool", State.PLANNED, "create pool default")])
    monkeypatch.setattr(setup_cmd, "running_as_root", lambda: False)
    assert run_guarded(cli, ["setup", "--dry-run"]) == 0
    assert seen[0][1] is True
    out = capsys.readouterr().out
    assert "[ ] create pool default" in out and "1 step(s) would change" in out


def test_second_run_says_nothing_to_do(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(monkeypatch, [StepEvent("daemon", State.OK, "Incus 6.0.4 answers"),
                           StepEvent("sudoers", State.SKIPPED, "sudo is not installed")])
    assert run_guarded(cli, ["setup"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "[ok] Incus 6.0.4 answers", "[-] sudo is not installed",
        "nothing to do: this host is ready for coi (check it with `coi health`)"]


def test_slow_steps_announce_themselves_and_report_duration(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(monkeypatch, [
        StepEvent("packages", State.RUNNING, "install incus-base", slow=True),
        StepEvent("packages", State.DONE, "installed incus-base", seconds=30.2),
        StepEvent("pool", State.RUNNING, "create pool"),
        StepEvent("pool", State.DONE, "created pool\nsecond line", seconds=0.1)])
    assert run_guarded(cli, ["setup"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == ["[..] install incus-base …", "[+] installed incus-base (30.2 s)",
                       "[+] created pool", "     second line"]
    assert out[4].startswith("done: 2 step(s) changed this host")


def test_a_failed_step_shows_the_fix_and_exits_8(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(monkeypatch, [StepEvent("network", State.FAILED, "no free subnet",
                                     fix="pass --subnet")])
    assert run_guarded(cli, ["setup"]) == 8
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["[!] network failed: no free subnet",
                                         "     fix: pass --subnet"]
    assert "setup stopped at step 'network'" in captured.err


def test_flags_become_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fake_run(monkeypatch, [])
    run_guarded(cli, ["setup", "--storage", "dir", "--pool", "p", "--network", "br",
                      "--subnet", "10.9.9.0/24", "--base-source", "local",
                      "--base-release", "trixie", "--mirror", "http://m", "--no-image"])
    options = seen[0][0]
    assert (options.storage, options.pool, options.network, options.subnet) == (
        "dir", "p", "br", "10.9.9.0/24")
    assert (options.base_source, options.base_release, options.mirror, options.with_image) == (
        "local", "trixie", "http://m", False)


@pytest.mark.parametrize("flags", [["--storage-size", "lots"], ["--subnet", "10.1.2"]])
def test_malformed_values_are_usage_errors(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str],
                                           flags: list[str]) -> None:
    seen = fake_run(monkeypatch, [])
    assert run_guarded(cli, ["setup", *flags]) == 2
    assert seen == []
    assert "coi: error:" in capsys.readouterr().err
