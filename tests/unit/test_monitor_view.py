"""`coi monitor`'s data (coi.monitor.view) and its text, over a fake host /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.cli import monitor as monitor_cmd
from coi.monitor import view
from coi.monitor.audit import AuditLog, audit_path
from tests.unit.test_monitor_fakeproc import HOST_PIDNS, FakeProc

CONTAINER_ROOT_UID = 1000000


def tree(tmp_path: Path) -> FakeProc:
    fake = FakeProc(tmp_path)
    fake.add(100, ["/sbin/init"], ppid=0, ns_pid=1, uid=CONTAINER_ROOT_UID)
    fake.add(120, ["bash", "-i"], ppid=100, ns_pid=20, uid=CONTAINER_ROOT_UID + 1000,
             fds={0: "socket:[555]", 1: "socket:[555]", 2: "/dev/pts/0"})
    fake.add(130, ["python3", "-m", "http.server"], ppid=100, ns_pid=30,
             uid=CONTAINER_ROOT_UID + 1000, fds={3: "socket:[556]"})
    fake.add(999, ["/usr/bin/host-daemon"], ppid=1, pidns=HOST_PIDNS, uid=0)
    fake.tcp(100, 555, ("10.0.0.5", 40000), ("10.0.0.9", 4444))
    fake.tcp(100, 556, ("0.0.0.0", 8000), ("0.0.0.0", 0), state="0A")
    fake.tcp(100, 557, ("::", 5355), ("::", 0), proto="udp6", state="07")
    (fake.root / "100" / "uid_map").write_text(f"         0    {CONTAINER_ROOT_UID}      65536\n")
    etc = fake.root / "100" / "root" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/bash\n"
                                "code:x:1000:1000::/home/code:/bin/bash\n")
    return fake


def io_files(fake: FakeProc, rchar: dict[int, int], rx: int) -> None:
    for pid, value in rchar.items():
        (fake.root / str(pid) / "io").write_text(f"rchar: {value}\nwchar: 0\n")
    (fake.root / "100" / "net" / "dev").write_text(
        "Inter-|   Receive\n face |bytes    packets\n"
        f"  eth0: {rx} 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")


def test_snapshot_of_processes_connections_and_reads(tmp_path: Path) -> None:
    fake = tree(tmp_path)
    io_files(fake, {100: 1_000_000, 120: 2_000_000, 130: 0}, rx=500_000)
    first = view.gather(fake.root, 100, now=10.0)
    io_files(fake, {100: 1_000_000, 120: 7_000_000, 130: 1_000_000}, rx=1_500_000)
    second = view.gather(fake.root, 100, now=11.0)
    v = view.build("c1", "Running", 100, second, first, threats=[{"title": "x"}],
                   monitor=view.MonitorState(None, True), when="2026-03-01T10:00:00+00:00")
    assert [(p.pid, p.ns_pid, p.user, p.command) for p in v.processes] == [
        (100, 1, "root", "/sbin/init"), (120, 20, "code", "bash -i"),
        (130, 30, "code", "python3 -m http.server")], "host processes are not in it"
    conns = {c.inode: c for c in v.connections}
    assert (conns[555].remote, conns[555].state, conns[555].pid) == (
        "10.0.0.9:4444", "ESTABLISHED", 120)
    assert (conns[556].local, conns[556].state, conns[556].pid) == ("0.0.0.0:8000", "LISTEN", 130)
    assert (conns[557].local, conns[557].state, conns[557].pid) == ("[::]:5355", "UNCONN", None)
    assert v.io.read_bytes == 9_000_000 and v.io.net_rx_bytes == 1_500_000
    # 6 MB more read, 1 MB of it from the network, in 1 s
    assert v.io.rate_bytes_s == pytest.approx(5_000_000)
    assert v.monitor.state == "watching" and v.missing == ()
    data = v.to_json()
    assert set(data) == {"container", "status", "time", "init_pid", "monitor", "processes",
                         "connections", "io", "threats", "missing"}
    assert data["io"]["read_mb"] == 9.0 and data["io"]["rate_mb_s"] == 5.0
    text = monitor_cmd.text(v)
    assert "Monitor: watching (supervised)" in text
    assert "10.0.0.9:4444" in text and "5.00 MB/s" in text and "9.0 MB" in text


def test_without_root_what_is_missing_is_named(tmp_path: Path) -> None:
    fake = FakeProc(tmp_path)
    fake.add(100, ["/sbin/init"], ppid=0, ns_pid=1)  # no fds readable, no io files
    v = view.build("c1", "Running", 100, view.gather(fake.root, 100))
    assert v.io.read_bytes is None and v.io.rate_bytes_s is None
    assert view.NEEDS_ROOT_FDS in v.missing and view.NEEDS_ROOT_IO in v.missing
    assert "Not shown:" in monitor_cmd.text(v)
    gone = view.build("c1", "Running", 4242, view.gather(fake.root, 4242))
    assert gone.processes == () and view.NO_PROCS in gone.missing
    stopped = view.build("c1", "Stopped", 0, view.gather(fake.root, 0))
    assert stopped.processes == () and stopped.missing == ()


def test_cgroup_pids_add_nested_namespaces(tmp_path: Path) -> None:
    fake = tree(tmp_path)
    fake.add(140, ["dockerd-child"], ppid=130, pidns="pid:[4026539999]")
    cg = tmp_path / "cg"
    (cg / "inner").mkdir(parents=True)
    (cg / "cgroup.procs").write_text("100\n")
    (cg / "inner" / "cgroup.procs").write_text("140\n")
    assert view.container_pid_set(fake.root, 100, cg) == [100, 120, 130, 140]


def test_monitor_states_and_marker_text() -> None:
    marker = {"state": "paused", "title": "Environment scan", "time": "2026-03-01T10:00:00+00:00"}
    assert view.MonitorState(marker, True).state == "paused"
    assert view.MonitorState({"state": "killed"}, False).state == "killed"
    assert view.MonitorState(None, False).state == "unwatched"


def test_recent_threats_are_the_last_n(tmp_path: Path) -> None:
    log = AuditLog(audit_path(tmp_path, "c1"))
    for n in range(15):
        log.append({"time": f"2026-03-01T10:00:{n:02d}+00:00", "severity": "info",
                    "title": f"e{n}"})
    assert [e["title"] for e in view.recent_threats(tmp_path, "c1", 3)] == ["e12", "e13", "e14"]
    assert view.recent_threats(tmp_path, "other") == []
    assert view.recent_threats(tmp_path / "none", "c1") == []


def test_uid_mapping() -> None:
    mapping = ((0, 1000000, 65536),)
    assert view.inside_uid(1001000, mapping) == 1000
    assert view.inside_uid(5, mapping) is None
    assert view.inside_uid(5, ()) == 5
