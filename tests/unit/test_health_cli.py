"""`coi health` output and exit statuses, through the real entry point."""

from __future__ import annotations

import json

import pytest

from coi.cli.errors import run_guarded
from coi.cli.main import cli
from coi.host import health
from coi.host.health import Report, Status, result


def fake_report(monkeypatch: pytest.MonkeyPatch, *statuses: Status) -> None:
    checks = tuple(result(f"check{i}", s, f"message {i}", f"fix {i}")
                   for i, s in enumerate(statuses))
    monkeypatch.setattr(health, "run_health", lambda: Report(checks))


@pytest.mark.parametrize(("statuses", "code"), [
    ((Status.OK,), 0), ((Status.OK, Status.WARN), 1), ((Status.WARN, Status.FAIL), 2)])
def test_exit_status_follows_the_report(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str],
                                        statuses: tuple[Status, ...], code: int) -> None:
    fake_report(monkeypatch, *statuses)
    assert run_guarded(cli, ["health"]) == code
    assert run_guarded(cli, ["health", "--json"]) == code


def test_text_output_marks_problems_and_shows_fixes(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fake_report(monkeypatch, Status.OK, Status.WARN)
    run_guarded(cli, ["health"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "coi health: degraded"
    assert out[1].split() == ["[ok]", "check0", "message", "0"]
    assert out[2].split()[:2] == ["[warn]", "check1"]
    assert out[3].strip() == "fix: fix 1"
    assert len(out) == 4  # no fix line for the ok check


@pytest.mark.parametrize("flag", [["--json"], ["--format", "json"]])
def test_json_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                     flag: list[str]) -> None:
    fake_report(monkeypatch, Status.FAIL)
    run_guarded(cli, ["health", *flag])
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"status": "unhealthy", "checks": [
        {"name": "check0", "status": "fail", "message": "message 0", "fix": "fix 0",
         "details": {}}]}
