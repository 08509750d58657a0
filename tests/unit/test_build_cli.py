"""`coi build` as a user sees it, with the builder faked: flags, errors, progress, summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coi.cli.errors import run_guarded
from coi.cli.main import cli
from coi.images import build as build_module
from coi.images import plans
from coi.images.build import BuildRequest, BuildResult
from coi.images.events import BuildEvent, BuildFailed, Kind

RESULT = BuildResult(alias="coi", version="coi-20260101-000000", fingerprint="ab" * 32,
                     size=2_800_000_000, seconds=125.0, built=True, reason="forced",
                     built_at="2026-01-01T00:00:00+00:00", base="coi-base",
                     log_path=Path("/home/u/.coi/logs/build-coi-20260101-000000.log"))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run_guarded(cli, ["build", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> list[BuildRequest]:
    """build_image emits a few events and succeeds; the requests it got are kept."""
    seen: list[BuildRequest] = []

    def fake(client: Any, request: BuildRequest, paths: Any, emit: Any) -> BuildResult:
        seen.append(request)
        emit(BuildEvent(Kind.STEP, "run the coi recipe", 1.0))
        emit(BuildEvent(Kind.PHASE, "install base packages", 2.5))
        emit(BuildEvent(Kind.OUTPUT, "Setting up tmux", 3.0))
        return RESULT

    monkeypatch.setattr(build_module, "build_image", fake)
    monkeypatch.setattr(build_module, "find_image", lambda client, alias: None)
    monkeypatch.setattr(plans, "ensure_base", lambda client, alias, source, on_note: None)
    return seen


def test_progress_without_a_terminal_is_plain_lines(
        capsys: pytest.CaptureFixture[str], fake_build: list[BuildRequest]) -> None:
    code, out, _ = run(capsys, "--alias", "coi", "--no-host-ca", "--tools", "claude")
    assert code == 0
    assert "[1.0s] step: run the coi recipe\n[2.5s] phase: install base packages\n" in out
    assert "Setting up tmux" not in out
    assert "built coi in 2m05s" in out
    assert "version      coi-20260101-000000" in out
    assert "size         2.6 GiB" in out
    assert fake_build[0].env["COI_TOOLS"] == "claude"
    assert fake_build[0].extra_files == ()


def test_verbose_shows_the_output(capsys: pytest.CaptureFixture[str],
                                  fake_build: list[BuildRequest]) -> None:
    _, out, _ = run(capsys, "--alias", "coi", "-v")
    assert "Setting up tmux\n" in out


def test_json_result_on_stdout_progress_on_stderr(
        capsys: pytest.CaptureFixture[str], fake_build: list[BuildRequest]) -> None:
    import json

    _, out, err = run(capsys, "--alias", "coi", "--json")
    doc = json.loads(out)
    assert doc["fingerprint"] == "ab" * 32 and doc["built"] is True
    assert doc["log_path"].endswith("build-coi-20260101-000000.log")
    assert "phase: install base packages" in err


def test_kept_image_says_how_to_rebuild(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    kept = BuildResult(alias="coi", version="", fingerprint="ab" * 32, size=1, seconds=0.1,
                       built=False, built_at="2026-01-01", base="coi-base",
                       reason="image coi already exists (built 2026-01-01)")
    def no_base(*args: Any, **kw: Any) -> None:
        raise AssertionError("the base is not needed when nothing is built")

    monkeypatch.setattr(build_module, "build_image", lambda *a: kept)
    monkeypatch.setattr(build_module, "find_image", lambda client, alias: kept)
    monkeypatch.setattr(plans, "ensure_base", no_base)
    code, out, _ = run(capsys, "--alias", "coi")
    assert code == 0
    assert out == "image coi already exists (built 2026-01-01); use --force to rebuild\n"


def test_a_failed_build_shows_the_log_tail(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    def failing(*args: Any) -> BuildResult:
        raise BuildFailed("the build script s.sh failed with exit status 3",
                          Path("/l/build.log"), ["compiling", "error: boom"])

    script = tmp_path / "s.sh"
    script.write_text("exit 3\n")
    monkeypatch.setattr(build_module, "build_image", failing)
    code, _, err = run(capsys, "custom", "x", "--script", str(script))
    assert code == 1
    assert "last lines of the build log:\n  compiling\n  error: boom\n" in err
    assert err.rstrip().endswith("coi: error: the build script s.sh failed with exit status 3 "
                                 "(see the build log: /l/build.log)")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--tools", "cursor"], 2, "unknown tool(s): cursor"),
    (["--apt-mirror", "deb.debian.org"], 2, "--apt-mirror must be an http"),
    (["--apt-proxy", "ftp://x"], 2, "--apt-proxy must be an http"),
    (["--alias", "no/slash"], 2, "invalid image name"),
    (["custom", "x", "--script", "/nonexistent/s.sh"], 5, "build script /nonexistent/s.sh "
                                                           "not found"),
    (["--force", "custom", "x", "--script", "s.sh"], 2, "options before `custom` belong"),
])
def test_bad_input_fails_before_any_container(
        capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str) -> None:
    got, _, err = run(capsys, *args)
    assert got == code
    assert message in err


def test_custom_needs_a_script(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "custom", "x")
    assert code == 2
    assert "Missing option '--script'" in err
