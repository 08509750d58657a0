"""The supervisor's loop parts that need no daemon: timers, the host-side end watch,
and what the long-lived supervisor process loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from coi.session.sentry import HostWatch, Timer


def test_timer_fires_once_per_period_and_can_be_brought_forward() -> None:
    timer = Timer(2.0, start=10.0)
    assert not timer.fire(11.0)
    assert timer.fire(12.0) and not timer.fire(12.5)
    timer.soon(12.5, 0.05)
    assert timer.fire(12.56)
    never = Timer(None, 0.0)
    assert not never.fire(1e9) and never.due == float("inf")


def make_proc(root: Path, pid: int, comm: str) -> None:
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "comm").write_text(comm + "\n")


def test_host_watch_sees_tmux_exit_and_the_cgroup_going(tmp_path: Path) -> None:
    proc, cgroup = tmp_path / "proc", tmp_path / "cg"
    (cgroup / ".lxc").mkdir(parents=True)
    (cgroup / "cgroup.procs").write_text("1\n")
    (cgroup / ".lxc" / "cgroup.procs").write_text("40\n41\n")
    make_proc(proc, 1, "systemd")
    make_proc(proc, 40, "tmux: server")
    make_proc(proc, 41, "bash")
    watch = HostWatch(cgroup, proc)
    assert not watch.changed(), "the tmux server runs"
    assert watch.server == 40
    (proc / "40" / "comm").unlink()  # the server exited
    (cgroup / ".lxc" / "cgroup.procs").write_text("41\n")
    assert watch.changed()
    make_proc(proc, 50, "tmux: server")  # someone started tmux again
    (cgroup / ".lxc" / "cgroup.procs").write_text("41\n50\n")
    assert not watch.changed()
    for path in sorted(cgroup.rglob("cgroup.procs")):
        path.unlink()
    assert watch.changed(), "the container stopped: its cgroup is gone"


def test_the_supervisor_process_loads_no_cli_or_heavy_libraries() -> None:
    """It lives as long as its session, once per session: what it imports stays."""
    code = ("import sys, coi.session.daemon, coi.session.sentry, coi.session.supervisor, "
            "coi.monitor.engine, coi.monitor.respond, coi.monitor.netevents, "
            "coi.monitor.nflog, coi.monitor.nftwatch, coi.monitor.execwatch, "
            "coi.session.watch, coi.incus.instances; print(' '.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, text=True,
                                capture_output=True).stdout.split())
    heavy = {"click", "msgspec", "yaml", "tarfile", "websockets", "coi.config",
             "coi.session.save", "coi.network.firewall", "tomllib"}
    assert not heavy & loaded


def test_fork_server_socket_follows_the_code(tmp_path: Path) -> None:
    from coi.session import forkserver

    first = forkserver.socket_path(tmp_path)
    assert first.parent == tmp_path and first.name.startswith("forkserver-")
    assert forkserver.socket_path(tmp_path) == first


def test_guarded_chains_are_the_shared_ones_and_the_sessions_own() -> None:
    from coi.network.rules import BASE_CHAINS, REFUSE, chain_names
    from coi.session.watchman import SHARED_CHAINS, guarded_chains

    assert set(SHARED_CHAINS) == {*BASE_CHAINS, REFUSE}
    own = {*chain_names("coi-abc-1", 0), *chain_names("coi-abc-1", 1)}
    assert set(guarded_chains("coi-abc-1")) == {*SHARED_CHAINS, *own}
