"""`coi monitor`, `coi monitor audit`, `coi unfreeze` and the shell's closing words:
routing, options and output that need no daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coi.cli import monitor as monitor_cmd
from coi.cli import shell as shell_cmd
from coi.cli import unfreeze as unfreeze_cmd
from coi.errors import UsageError
from coi.monitor.audit import AuditLog, audit_path
from coi.monitor.findings import Severity
from coi.session.record import SessionRecord
from coi.session.terminal import AfterAttach
from tests.unit.test_listing import home, run

__all__ = ["home"]  # the fixture, used by name


@pytest.fixture(autouse=True)
def no_container_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COI_CONTAINER", raising=False)


def events(home: Path, name: str = "coi-0123abcd-1") -> None:
    log = AuditLog(audit_path(home / ".coi", name))
    for severity, action in (("info", "logged"), ("warning", "alerted"), ("high", "paused"),
                             ("critical", "killed")):
        log.append({"time": "2026-03-01T10:00:00+00:00", "container": name,
                    "severity": severity, "detector": "d", "title": f"{severity} thing",
                    "evidence": {"pid": 7, "cmdline": "x"}, "action": action})


def test_levels() -> None:
    assert monitor_cmd.parse_levels(None) is None
    assert monitor_cmd.parse_levels("critical, high") == [Severity.CRITICAL, Severity.HIGH]
    with pytest.raises(UsageError) as exc:
        monitor_cmd.parse_levels("critical,severe")
    assert exc.value.exit_code == 2 and "'severe'" in exc.value.message
    assert exc.value.hint == "valid levels: info, warning, high, critical"


def test_audit_text_json_lines_and_export(home: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    events(home)
    code, out, _ = run(capsys, "monitor", "audit", "coi-0123abcd-1")
    assert code == 0 and "Security audit log of coi-0123abcd-1 (4 event(s))" in out
    assert "CRITICAL  d" in out and "Details (high and critical):" in out
    code, out, _ = run(capsys, "monitor", "audit", "coi-0123abcd-1", "--level=critical,high",
                       "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["severity"] for e in lines] == ["high", "critical"]
    dest = home / "report.json"
    code, out, _ = run(capsys, "monitor", "audit", "coi-0123abcd-1", f"--export={dest}")
    assert code == 0 and "Exported 4 event(s)" in out
    assert len(json.loads(dest.read_text())) == 4 and dest.stat().st_mode & 0o777 == 0o600
    code, _, err = run(capsys, "monitor", "audit", "coi-0123abcd-1", "--level", "bogus")
    assert code == 2 and "valid levels: info, warning, high, critical" in err


def test_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "monitor", "--help")
    assert code == 0 and "audit" in out and "coi monitor [NAME] [--watch N]" in out
    code, out, _ = run(capsys, "monitor", "some-name", "--help")  # the default command
    assert code == 0 and "--watch N" in out and "from the host" in out
    code, out, _ = run(capsys, "unfreeze", "--help")
    assert code == 0 and "Exit status" in out
    code, out, _ = run(capsys, "shell", "--help")
    assert code == 0 and "--accept-flagged" in out


def test_bad_watch_interval_is_a_usage_error(home: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "monitor", "x", "--watch", "0")
    assert code == 2 and "--watch" in err


def test_level_completion() -> None:
    items = monitor_cmd.complete_levels(None, None, "critical,h")  # type: ignore[arg-type]
    assert [i.value for i in items] == ["critical,high"]


def record(**kw: object) -> SessionRecord:
    base = SessionRecord(session_id="s-1", tool="dummy", workspace="/w", container="coi-x-1",
                         slot=1, persistent=False, image="coi-test",
                         created_at="2026-03-01T09:00:00+00:00", has_state=True,
                         ended_at="2026-03-01T10:00:00+00:00")
    return SessionRecord(**{**base.to_json(), **kw})


def test_shell_says_when_the_monitor_killed_or_paused_the_session() -> None:
    killed = record(end_reason="threat", threat={
        "severity": "critical", "title": "Reverse shell detected", "action": "killed",
        "time": "2026-03-01T10:00:00+00:00"})
    text = shell_cmd.ended_text(killed, AfterAttach(False, killed))
    assert text.splitlines()[0] == ("The security monitor killed this session: Reverse shell "
                                    "detected (critical, 2026-03-01 10:00:00 UTC).")
    assert "coi monitor audit coi-x-1" in text
    assert "Resume with: coi shell --resume=s-1 --accept-flagged" in text
    paused = shell_cmd.ended_text(record(), AfterAttach(True, monitor={
        "state": "paused", "title": "Environment scan"}))
    assert paused.splitlines() == [
        "Session s-1 is paused by the security monitor (Environment scan): container "
        "coi-x-1 is frozen.",
        "See why with: coi monitor audit coi-x-1",
        "Resume it with: coi unfreeze coi-x-1, then coi attach coi-x-1"]
    plain = shell_cmd.ended_text(record(), AfterAttach(False, record()))
    assert "monitor" not in plain and "--accept-flagged" not in plain


def test_unfreeze_text() -> None:
    done = unfreeze_cmd.Unfrozen("c", "Frozen", True, {"title": "Env"}, True)
    assert unfreeze_cmd.text([done], everything=False).startswith(
        "Unfrozen c (paused by the monitor: Env).")
    idle = unfreeze_cmd.Unfrozen("c", "Running", False, None, False)
    assert unfreeze_cmd.text([idle], False) == "c is not frozen (running): nothing to do."
    assert unfreeze_cmd.text([], everything=True) == "No frozen session containers."
    event = unfreeze_cmd.user_event("c", {"by_uid": 0})
    assert (event["detector"], event["severity"], event["action"]) == ("user", "info",
                                                                       "unfrozen")


def complete(words: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from click.shell_completion import ShellComplete

    from coi.cli.main import cli

    monkeypatch.setattr(monitor_cmd, "complete_containers",
                        lambda *_: [])  # no daemon here
    args = words.split()[1:]
    incomplete = "" if words.endswith(" ") else args.pop()
    comp = ShellComplete(cli, {}, "coi", "_COI_COMPLETE")
    return [item.value for item in comp.get_completions(args, incomplete)]


def test_completion(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "monitor" in complete("coi mon", monkeypatch)
    assert complete("coi monitor ", monkeypatch) == ["audit"]
    assert "--watch" in complete("coi monitor c1 --w", monkeypatch)
    assert complete("coi monitor audit c1 --level critical,w", monkeypatch) == [
        "critical,warning"]
    assert complete("coi shell --accept", monkeypatch) == ["--accept-flagged"]
    assert complete("coi unf", monkeypatch) == ["unfreeze"]
