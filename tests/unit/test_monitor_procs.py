"""Finding a container's processes and sockets in a (fake) host /proc."""

from __future__ import annotations

import time
from ipaddress import ip_address
from pathlib import Path

import pytest

from coi.monitor import cgroup, netstat, procs
from tests.unit.test_monitor_fakeproc import HOST_PIDNS, FakeProc


@pytest.fixture
def fake(tmp_path: Path) -> FakeProc:
    proc = FakeProc(tmp_path)
    proc.add(1, ["/sbin/init"], ppid=0, pidns=HOST_PIDNS, netns="net:[1]")
    proc.add(500, ["/sbin/init"], ppid=400, ns_pid=1)
    proc.add(501, ["bash", "-l"], ppid=500, ns_pid=20,
             fds={0: "/dev/pts/0", 1: "/dev/pts/0", 3: "socket:[7001]"})
    proc.add(502, [], ppid=2, name="kthread", pidns=HOST_PIDNS, netns="net:[1]")
    proc.tcp(500, 7001, ("10.0.0.5", 40000), ("10.0.0.9", 4444))
    return proc


def test_pid_namespace_membership(fake: FakeProc) -> None:
    assert procs.container_pids(fake.root, 500) == [500, 501]


def test_unknown_init_gives_nothing(fake: FakeProc) -> None:
    assert procs.container_pids(fake.root, 999) == []


def test_process_details(fake: FakeProc) -> None:
    proc = procs.read_proc(fake.root, 501)
    assert proc is not None
    assert (proc.ppid, proc.name, proc.uid, proc.ns_pid) == (500, "bash", 1001000, 20)
    assert proc.cmdline == ("bash", "-l")
    assert proc.fds == {0: "/dev/pts/0", 1: "/dev/pts/0", 3: "socket:[7001]"}
    assert proc.command == "bash -l"


def test_kernel_thread_without_cmdline_shows_its_name(fake: FakeProc) -> None:
    proc = procs.read_proc(fake.root, 502)
    assert proc is not None and proc.cmdline == () and proc.command == "[kthread]"


def test_vanished_process_is_skipped(fake: FakeProc) -> None:
    assert procs.read_proc(fake.root, 4242) is None
    assert [p.pid for p in procs.scan(fake.root, [500, 4242, 501]).procs] == [500, 501]


def test_socket_resolution(fake: FakeProc) -> None:
    snap = procs.scan_container(fake.root, 500)
    sock = snap.socket_of("socket:[7001]")
    assert sock is not None
    assert (sock.remote_addr, sock.remote_port, sock.state) == ("10.0.0.9", 4444, "ESTABLISHED")
    assert snap.socket_of("pipe:[7001]") is None
    assert snap.socket_of("socket:[999]") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("0100007F:0050", ("127.0.0.1", 80)),
    ("0500000A:115C", ("10.0.0.5", 4444)),
    ("00000000000000000000000001000000:0016", ("::1", 22)),
    ("0000000000000000FFFF00000100007F:0016", (str(ip_address("::ffff:127.0.0.1")), 22)),
])
def test_address_decoding(text: str, expected: tuple[str, int]) -> None:
    assert netstat.decode_address(text) == expected


def test_loopback_includes_mapped_v4() -> None:
    assert netstat.is_loopback("::ffff:127.0.0.1")
    assert netstat.is_loopback("127.3.4.5")
    assert not netstat.is_loopback("10.0.0.1")


def test_table_parsing_skips_garbage_and_names_states() -> None:
    text = ("header\n"
            "   0: 0100007F:0050 00000000:0000 0A 0:0 00:0 0 0 0 123 1\n"
            "   1: zz:zz 00000000:0000 0A 0:0 00:0 0 0 0 124 1\nshort line\n")
    [sock] = netstat.parse_table(text, "tcp")
    assert (sock.inode, sock.state, sock.connected) == (123, "LISTEN", False)


def test_cgroup_pids_cover_the_subtree(tmp_path: Path) -> None:
    top = tmp_path / "lxc.payload.c1"
    (top / "init.scope").mkdir(parents=True)
    (top / "cgroup.procs").write_text("")
    (top / "init.scope" / "cgroup.procs").write_text("500\n")
    (top / "system.slice").mkdir()
    (top / "system.slice" / "cgroup.procs").write_text("501\n502\n")
    assert cgroup.cgroup_pids(top) == [500, 501, 502]
    assert cgroup.payload_dir("c1", tmp_path) == top


def test_io_stat_sums_read_bytes(tmp_path: Path) -> None:
    (tmp_path / "io.stat").write_text(
        "8:0 rbytes=1048576 wbytes=5 rios=3 wios=1\n259:0 rbytes=10 wbytes=0\n")
    assert cgroup.read_bytes(tmp_path) == 1048586


def test_full_scan_of_200_processes_is_fast(tmp_path: Path) -> None:
    fake = FakeProc(tmp_path)
    fake.add(1000, ["/sbin/init"], ppid=900, ns_pid=1)
    for i in range(1, 200):
        fds = {n: f"/workspace/file{n}" for n in range(3, 10)}
        fds |= {0: "/dev/null", 1: f"pipe:[{i}]", 2: f"socket:[{20000 + i}]"}
        fake.add(1000 + i, ["python3", "-m", "worker", str(i)], ppid=1000, fds=fds)
    for i in range(200):
        fake.tcp(1000, 20000 + i, ("10.0.0.5", 30000 + i), ("10.0.0.1", 443))
    start = time.perf_counter()
    snap = procs.scan_container(fake.root, 1000)
    elapsed = time.perf_counter() - start
    assert len(snap.procs) == 200 and len(snap.sockets) == 200
    assert elapsed < 0.5, f"scan took {elapsed * 1000:.1f} ms"
