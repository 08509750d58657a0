"""Read accounting: rchar across process exits, net of network receive."""

from __future__ import annotations

from pathlib import Path

from coi.monitor.cgroup import find_payload_dir
from coi.monitor.iocount import ReadAccounting, net_rx_bytes, read_chars

MB = 1024 * 1024


def test_first_update_only_primes() -> None:
    acct = ReadAccounting()
    assert acct.update({10: (500 * MB, 1)}, {"net": 0}) == 0


def test_growth_of_live_processes_counts() -> None:
    acct = ReadAccounting()
    acct.update({1: (100, 0), 10: (1000, 1)}, {"n": 0})
    assert acct.update({1: (100, 0), 10: (1000 + 5 * MB, 1)}, {"n": 0}) == 5 * MB


def test_new_process_counts_from_zero() -> None:
    acct = ReadAccounting()
    acct.update({1: (0, 0)}, {})
    assert acct.update({1: (0, 0), 20: (3 * MB, 1)}, {}) == 3 * MB


def test_reaped_child_is_not_counted_twice() -> None:
    """cat read 200 MB over two samples, then exited; bash's rchar jumps by all of it."""
    acct = ReadAccounting()
    acct.update({1: (0, 0), 5: (1000, 1)}, {})
    acct.update({1: (0, 0), 5: (1000, 1), 9: (150 * MB, 5)}, {})
    total = acct.update({1: (0, 0), 5: (1000 + 200 * MB, 1)}, {})
    assert total == 200 * MB


def test_short_lived_child_between_samples_is_seen_through_its_parent() -> None:
    acct = ReadAccounting()
    acct.update({1: (0, 0), 5: (1000, 1)}, {})
    assert acct.update({1: (0, 0), 5: (1000 + 200 * MB, 1)}, {}) == 200 * MB


def test_chain_that_exited_together_is_credited_to_the_reaper() -> None:
    acct = ReadAccounting()
    acct.update({1: (0, 0), 5: (0, 1), 6: (0, 5), 7: (0, 6)}, {})
    acct.update({1: (0, 0), 5: (0, 1), 6: (10, 5), 7: (100 * MB, 6)}, {})
    # 6 and 7 exit; 5 reaps 6, which had reaped 7: 5 gains everything they read.
    total = acct.update({1: (0, 0), 5: (100 * MB + 10 + MB, 1)}, {})
    assert total == 100 * MB + 10 + MB


def test_network_receive_is_taken_off() -> None:
    acct = ReadAccounting()
    acct.update({1: (0, 0)}, {"ns": 1000})
    assert acct.update({1: (300 * MB, 0)}, {"ns": 1000 + 300 * MB}) == 0
    assert acct.update({1: (310 * MB, 0)}, {"ns": 1000 + 300 * MB}) == 10 * MB


def test_counter_going_backwards_counts_nothing() -> None:
    acct = ReadAccounting()
    acct.update({1: (500, 0)}, {})
    assert acct.update({1: (100, 0)}, {}) == 0


def test_reads_own_proc(tmp_path: Path) -> None:
    import os

    assert (read_chars(Path("/proc"), os.getpid()) or 0) > 0
    assert read_chars(Path("/proc"), 2**22 + 7) is None
    assert net_rx_bytes(Path("/proc"), os.getpid()) >= 0
    fake = tmp_path / "1" / "net"
    fake.mkdir(parents=True)
    (fake / "dev").write_text(
        "Inter-|   Receive\n face |bytes    packets\n"
        "    lo:     100       1    0    0\n  eth0: 2000  5 0 0\n")
    assert net_rx_bytes(tmp_path, 1) == 2100


def test_find_payload_dir_prefers_unified(tmp_path: Path) -> None:
    for base in ("unified", "pids"):
        d = tmp_path / base / "lxc.payload.p_c1"
        d.mkdir(parents=True)
        (d / "cgroup.procs").write_text("")
    assert find_payload_dir("c1", "p", tmp_path) == tmp_path / "unified" / "lxc.payload.p_c1"
    assert find_payload_dir("c2", "default", tmp_path) is None
