"""Flags `coi shell` and `coi run` share, mounts, the plan they make, and run's statuses."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import coi.incus
import coi.session.runner
from coi.cli.errors import run_guarded
from coi.cli.main import cli
from coi.cli.options import session_options
from coi.errors import IncusError, NotFound, PolicyError, UsageError
from coi.session import plan as planning
from coi.session.mounts import extra_mounts, parse_mount, storage_source
from coi.session.plan import SessionFlags
from coi.session.runner import RunResult


@click.command()
@session_options
def probe(flags: SessionFlags) -> None:
    click.echo(repr(flags))


def flags_of(*args: str) -> SessionFlags:
    result = CliRunner().invoke(probe, list(args))
    assert result.exit_code == 0, result.output
    return eval(result.output, {"SessionFlags": SessionFlags})


def test_resume_and_continue_with_and_without_an_id() -> None:
    assert flags_of().resume is None
    assert flags_of("--resume").resume == "auto"
    assert flags_of("--resume=abc").resume == "abc"
    assert flags_of("--resume", "--persistent").resume == "auto"
    assert flags_of("--continue").resume == "auto"
    assert flags_of("--continue=x", "--resume=y").resume == "x", "--continue wins"


def test_repeatable_and_plain_flags() -> None:
    flags = flags_of("-e", "A=1", "--env", "B=2", "--mount", "/a:/b", "--mount", "/c:/d:ro",
                     "--slot", "3", "--persistent", "--tool", "dummy", "--network", "open")
    assert flags.env == ("A=1", "B=2")
    assert flags.mounts == ("/a:/b", "/c:/d:ro")
    assert (flags.slot, flags.persistent, flags.tool, flags.network) == (3, True, "dummy", "open")
    assert flags_of().persistent is None, "not given is not the same as false"
    assert CliRunner().invoke(probe, ["--slot", "11"]).exit_code == 2


# -- mounts -------------------------------------------------------------------------------


def test_mount_forms(tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    assert parse_mount(f"{src}:/data", cwd="/") == (str(src), "/data", False)
    assert parse_mount("data:/data:ro", cwd=str(tmp_path)) == (str(src), "/data", True)
    assert parse_mount(f"{src}:/data:rw", cwd="/")[2] is False


def mounts_of(spec: str, tmp_path: Path, storage: str | None = None) -> dict[str, Any]:
    home = tmp_path / "home"
    return extra_mounts([parse_mount(spec, cwd=str(tmp_path))] if spec else [], storage,
                        home=home, coi_home=home / ".coi", workspace=str(tmp_path / "ws"),
                        protected=[".git/hooks"], storage_dir=home / ".coi" / "storage")


@pytest.mark.parametrize("spec,error", [
    ("nocolon", UsageError), ("/a:/b:rx", UsageError), ("{src}:relative", PolicyError),
    ("{src}:/", PolicyError), ("{src}:/workspace", PolicyError),
    ("{tmp}/missing:/m", PolicyError), ("/:/host", PolicyError), ("{home}:/h", PolicyError),
    ("{tmp}:/h", PolicyError), ("{home}/.ssh:/k", PolicyError),
    ("{home}/.ssh/keys:/k", PolicyError), ("{home}/.coi:/c", PolicyError),
    ("{tmp}/ws/.git/hooks:/h", PolicyError),
])
def test_unsafe_or_malformed_mounts_are_refused(tmp_path: Path, spec: str,
                                                error: type[Exception]) -> None:
    home = tmp_path / "home"
    (home / ".ssh" / "keys").mkdir(parents=True)
    (home / ".coi").mkdir()
    (tmp_path / "ws" / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    with pytest.raises(error):
        mounts_of(spec.format(src=tmp_path / "src", tmp=tmp_path, home=home), tmp_path)


def test_mount_devices(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    assert mounts_of(f"{tmp_path}/data:/d:ro", tmp_path) == {"mount-0": {
        "type": "disk", "source": str(tmp_path / "data"), "path": "/d", "readonly": "true"}}


def test_storage_names_live_under_the_storage_dir(tmp_path: Path) -> None:
    storage = tmp_path / "home" / ".coi" / "storage"
    source = storage_source("cache", storage_dir=storage, cwd="/")
    assert source == str(storage / "cache") and (storage / "cache").is_dir()
    assert mounts_of("", tmp_path, source) == {"storage": {
        "type": "disk", "source": source, "path": "/storage", "readonly": "false"}}
    explicit = storage_source(str(tmp_path / "mine"), storage_dir=storage, cwd="/")
    assert explicit == str(tmp_path / "mine")
    with pytest.raises(UsageError):
        storage_source("a/../../x", storage_dir=storage, cwd="/")


# -- the plan -----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "home").mkdir()
    (tmp_path / "ws").mkdir()
    return {"HOME": str(tmp_path / "home"), "PATH": os.environ.get("PATH", ""),
            "SECRET_TOKEN": "s"}


def make(flags: SessionFlags, env: dict[str, str]) -> planning.SessionPlan:
    return planning.make_plan(flags, planning.load(flags, env), env)


def test_plan_from_defaults_and_flags(tmp_path: Path, env: dict[str, str]) -> None:
    ws = str(tmp_path / "ws")
    plan = make(SessionFlags(workspace=ws, network="open", env=("A=1",)), env)
    assert plan.workspace == ws and plan.tool.name == "claude" and plan.binary == "claude"
    assert plan.image == "coi" and plan.persistent is False and plan.bypass is True
    assert plan.coi_home == tmp_path / "home" / ".coi"
    assert plan.env["A"] == "1" and "SECRET_TOKEN" not in plan.env
    assert plan.save_interval == 300.0
    assert plan.security["security.privileged"] == "false"
    assert plan.security["security.guestapi"] == "false"
    assert plan.security["security.nesting"] == "true"


def test_dummy_binary_and_test_interval(tmp_path: Path, env: dict[str, str]) -> None:
    env |= {"COI_USE_DUMMY": "1", "COI_SAVE_INTERVAL_SECONDS": "0.5"}
    plan = make(SessionFlags(workspace=str(tmp_path / "ws"), network="open"), env)
    assert (plan.tool.name, plan.binary, plan.save_interval) == ("claude", "dummy", 0.5)


def test_plan_network_policy_and_limits(tmp_path: Path, env: dict[str, str]) -> None:
    ws = str(tmp_path / "ws")
    plan = make(SessionFlags(workspace=ws), env)
    assert plan.network_policy.mode == "restricted"
    assert "api.anthropic.com" in {d.host for d in plan.network_policy.allowlist}
    flags = SessionFlags(workspace=ws, network="allowlist", tool="dummy",
                         limits=(("processes", 50), ("duration", "20s")))
    plan = make(flags, env)
    assert plan.network_policy.mode == "allowlist"
    assert plan.config.limits.processes == 50 and plan.duration == 20


def test_home_and_secrets_are_refused_as_workspace(tmp_path: Path,
                                                   env: dict[str, str]) -> None:
    (tmp_path / "home" / ".ssh").mkdir()
    for bad in (tmp_path / "home", tmp_path / "home" / ".ssh", Path("/etc")):
        with pytest.raises(PolicyError, match="as a workspace"):
            make(SessionFlags(workspace=str(bad)), env)


def test_a_missing_workspace_is_a_usage_error(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        make(SessionFlags(workspace=str(tmp_path / "nope"), network="open"), env)


# -- coi run's exit statuses --------------------------------------------------------------


@pytest.fixture
def fake_daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                env: dict[str, str]) -> Iterator[list[Any]]:
    calls: list[Any] = []

    @contextlib.contextmanager
    def connect(*args: Any) -> Iterator[object]:
        yield object()

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path / "ws")
    monkeypatch.setattr(coi.incus, "connect", connect)
    yield calls


def run_with(monkeypatch: pytest.MonkeyPatch, outcome: RunResult | Exception) -> int:
    def fake(*args: Any, **kwargs: Any) -> RunResult:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(coi.session.runner, "run", fake)
    return run_guarded(cli, ["run", "--network", "open", "--", "make"])


@pytest.mark.parametrize("code", [0, 1, 7, 126, 127, 255])
def test_the_command_status_passes_through(monkeypatch: pytest.MonkeyPatch,
                                           fake_daemon: list[Any], code: int) -> None:
    assert run_with(monkeypatch, RunResult(code)) == code


@pytest.mark.parametrize("error", [NotFound("image 'coi' not found", hint="run `coi build`"),
                                   IncusError("daemon says no"), PolicyError("refused")])
def test_coi_failures_are_125(monkeypatch: pytest.MonkeyPatch, fake_daemon: list[Any],
                              error: Exception, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_with(monkeypatch, error) == 125
    assert str(error) in capsys.readouterr().err


def test_usage_errors_are_2(monkeypatch: pytest.MonkeyPatch, fake_daemon: list[Any]) -> None:
    assert run_guarded(cli, ["run"]) == 2
    assert run_guarded(cli, ["run", "--prompt", "x", "--", "true"]) == 2
    assert run_guarded(cli, ["run", "--bogus"]) == 2


def test_bare_coi_is_coi_shell(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[SessionFlags] = []

    def reached(flags: SessionFlags, loaded: object, environ: object = None) -> None:
        seen.append(flags)
        raise UsageError("reached coi shell")

    monkeypatch.setattr(planning, "make_plan", reached)
    assert run_guarded(cli, []) == 2
    assert "reached coi shell" in capsys.readouterr().err
    assert seen == [SessionFlags()]


def test_shell_without_a_terminal_says_to_use_background(
        monkeypatch: pytest.MonkeyPatch, fake_daemon: list[Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115 - closed by pytest
    assert run_guarded(cli, ["shell", "--network", "open"]) == 2
    err = capsys.readouterr().err
    assert "coi shell needs a terminal" in err and "--background" in err
