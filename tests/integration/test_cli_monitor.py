"""What the user touches of the monitor, against real dummy sessions: `coi monitor` (the
host-side snapshot), alerts in `coi shell`'s terminal, `coi list` and `coi unfreeze` for
a paused container, and `--resume` of a session the monitor flagged.

The monitor's own detections are tested in test_monitor_session.py; here the monitor's
traces (audit events, the `user.coi.monitor` marker, the record's `threat`) are written
as the supervisor writes them, so each test checks the CLI and nothing else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from coi.incus import instances
from coi.incus.client import Client
from coi.monitor.audit import AuditLog, audit_path
from coi.session.runlock import is_supervised
from tests.integration.session_support import COI, Sandbox, sandbox, wait_until

pytestmark = pytest.mark.slow

MARKER = "user.coi.monitor"
PAUSED = {"state": "paused", "severity": "high", "detector": "env_scan",
          "title": "Environment scan", "time": "2026-03-01T10:00:00+00:00"}
THREAT = {"severity": "critical", "detector": "reverse_shell", "title": "Reverse shell detected",
          "action": "killed", "time": "2026-03-01T10:00:00+00:00"}
# A loopback TCP connection held open for a minute: a connection `coi monitor` must show
# with its owner, and one the monitor does not flag (the peer is loopback).
HOLD = ("import socket, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 7777)); s.listen()\n"
        "c = socket.create_connection(('127.0.0.1', 7777)); a, _ = s.accept()\n"
        "time.sleep(60)\n")


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=1000) as made:
        yield made


def coi(box: Sandbox, *args: str) -> tuple[int, str, str]:
    done = box.coi(*args, input=b"")  # stdin is never a terminal here
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def event(container: str, severity: str, title: str, action: str) -> dict[str, Any]:
    return {"id": f"t-{time.monotonic_ns()}", "time": "2026-03-01T10:00:00+00:00",
            "container": container, "severity": severity, "detector": "env_scan",
            "title": title, "evidence": {"pid": 4242, "ns_pid": 42,
                                         "cmdline": "cat /proc/1/environ",
                                         "reason": "reads another process's environment"},
            "action": action}


def test_snapshot_alerts_pause_and_unfreeze(box: Sandbox) -> None:
    # --network open: no nftables rules, so nothing of the network policy is in play here
    child = pexpect.spawn(COI, ["shell", "--tool", "dummy", "--network", "open"],
                          cwd=str(box.workspace),
                          env=box.env(), dimensions=(40, 140), encoding="utf-8", timeout=60)
    child.expect("> ")
    name = box.name()
    wait_until(lambda: is_supervised(box.coi_home, name), 20, f"a supervisor for {name}")
    started = box.sh(name, f"nohup python3 -c \"{HOLD}\" >/dev/null 2>&1 &")
    assert started.exit_code == 0, started
    check_snapshot(box, name)
    log = check_alert(box, child, name)
    check_pause_and_unfreeze(box, name, log)
    child.sendline("hello again")  # the terminal works again after the unfreeze
    child.expect("Dummy: you said: hello again")
    child.sendline("exit")
    child.expect("Goodbye.")
    child.expect(r"\$ ")
    child.sendline("exit")
    child.expect(r"Resume with: coi shell --resume=\S+")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def check_snapshot(box: Sandbox, name: str) -> None:
    """`coi monitor --json` of this workspace's container (no NAME given)."""
    def held() -> dict[str, Any] | None:
        code, out, err = coi(box, "monitor", "--json")
        assert code == 0, err
        data: dict[str, Any] = json.loads(out)
        conns = [c for c in data["connections"]
                 if c["state"] == "ESTABLISHED" and c["remote"] == "127.0.0.1:7777"]
        return data if conns and conns[0]["pid"] else None

    wait_until(lambda: held() is not None, 20, "the held connection in `coi monitor`")
    data = held()
    assert data is not None and data["container"] == name and data["status"] == "Running"
    assert data["monitor"]["state"] == "watching" and data["monitor"]["supervised"]
    commands = {p["command"] for p in data["processes"]}
    assert any("python3 -c" in c for c in commands) and any("tmux" in c for c in commands)
    assert any(p["ns_pid"] == 1 for p in data["processes"]), "init, in-container pid 1"
    assert data["io"]["read_bytes"] > 0 and data["io"]["rate_mb_s"] is not None
    assert data["missing"] == []


def check_alert(box: Sandbox, child: pexpect.spawn, name: str) -> AuditLog:
    """An alert reaches the terminal; an info event does not."""
    log = AuditLog(audit_path(box.coi_home, name))
    log.append(event(name, "info", "Quiet thing", "logged"))
    log.append(event(name, "high", "Environment scan", "alerted"))
    child.expect(r"SECURITY ALERT \[HIGH\]")
    child.expect("Environment scan")
    child.expect(r"Process 'cat /proc/1/environ' \(PID 42 in the container, host 4242\)")
    child.expect(f"Logged to audit: .*{name}.jsonl")
    assert "Quiet thing" not in child.before
    code, out, _ = coi(box, "monitor", name, "--threats", "5")
    assert code == 0 and "Environment scan" in out and "HIGH" in out
    return log


def check_pause_and_unfreeze(box: Sandbox, name: str, log: AuditLog) -> None:
    """Paused by the monitor: `coi list` says so, `coi unfreeze` (no NAME) resumes it."""
    instances.update_config(box.client, name, {MARKER: json.dumps(PAUSED)})
    instances.freeze(box.client, name)
    try:
        code, out, _ = coi(box, "list", "--json")
        [listed] = json.loads(out)["active_containers"]
        assert (listed["status"], listed["monitor_state"]) == ("Frozen", "paused-by-monitor")
        code, out, _ = coi(box, "list")
        assert "Monitor: paused by monitor (HIGH: Environment scan" in out
        assert f"Resume with: coi unfreeze {name}" in out
    finally:
        code, out, err = coi(box, "unfreeze")
    assert code == 0, err
    assert out.startswith(f"Unfrozen {name} (paused by the monitor: Environment scan)")
    assert box.status(name) == "Running"
    assert MARKER not in instances.get(box.client, name).config
    last = log.path.read_text().splitlines()[-1]
    assert json.loads(last) | {"id": "", "time": "", "evidence": {}} == {
        "v": 1, "id": "", "time": "", "container": name, "severity": "info",
        "detector": "user", "title": "Unfrozen by the user", "evidence": {},
        "action": "unfrozen"}
    code, out, _ = coi(box, "unfreeze")
    assert code == 0 and out.strip() == "No frozen session containers."
    code, out, _ = coi(box, "unfreeze", name)
    assert code == 0 and out.strip() == f"{name} is not frozen (running): nothing to do."


def test_a_flagged_session_is_not_resumed_without_confirmation(box: Sandbox) -> None:
    code, _, err = coi(box, "shell", "--tool", "dummy", "--background", "--network", "open")
    assert code == 0, err
    name = box.name()
    wait_until(lambda: is_supervised(box.coi_home, name), 20, f"a supervisor for {name}")
    box.sh(name, f"tmux send-keys -t =coi-{name}: 'remember me' Enter")
    box.wait_screen(name, "Dummy: you said: remember me")
    box.end_tmux(name)
    box.wait_closed(name)
    record = box.only_session()
    assert record.has_state
    with box.store.lock("dummy", record.session_id):  # as the supervisor marks it
        box.store.write(record.flagged(THREAT))

    code, out, _ = coi(box, "list", "--all", "--json")
    [saved] = json.loads(out)["saved_sessions"]
    assert saved["monitor_state"] == "killed-by-monitor" and saved["threat"] == THREAT

    code, _, err = coi(box, "shell", "--tool", "dummy", "--resume", "--background",
                       "--network", "open")
    assert code == 9, err
    assert (f"Session {record.session_id} was killed by the monitor (Reverse shell detected, "
            "2026-03-01 10:00:00 UTC)") in err
    assert f"--resume={record.session_id} --accept-flagged" in err
    assert box.ours() == [], "nothing was started"

    child = pexpect.spawn(COI, ["shell", "--tool", "dummy", "--resume", "--network", "open"],
                          cwd=str(box.workspace), env=box.env(), encoding="utf-8", timeout=30)
    child.expect(r"Restore its saved state anyway\? \[y/N\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and box.ours() == []

    code, out, err = coi(box, "shell", "--tool", "dummy", "--resume", "--background",
                         "--network", "open", "--accept-flagged")
    assert code == 0, err
    assert f"Resumed session {record.session_id}" in out
    accepted = box.only_session()
    assert accepted.threat is not None and accepted.threat["accepted_at"]
    box.wait_screen(name, "You: remember me")
    box.end_tmux(name)
    box.wait_closed(name)


def test_errors(box: Sandbox) -> None:
    code, _, err = coi(box, "monitor", "coi-no-such-container")
    assert code == 5 and "no container named coi-no-such-container" in err
    code, _, err = coi(box, "monitor")
    assert code == 5 and "no coi container for the workspace" in err
    code, _, err = coi(box, "unfreeze", "coi-no-such-container")
    assert code == 5
    code, _, err = coi(box, "monitor", "audit", "coi-no-such-container")
    assert code == 5 and "no audit log" in err
    code, _, err = coi(box, "monitor", "audit", "x", "--level", "severe")
    assert code == 2 and "valid levels: info, warning, high, critical" in err
