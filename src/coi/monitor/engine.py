"""The monitor of one container: its sources turned into findings, from the host.

`Monitor.poll` is the periodic part (every `poll_interval`): the container's processes
from its cgroup, their command lines, descriptors and sockets (`procs.scan`), the
detectors over that snapshot, read volume (`iocount`), process count and spawn rate.
`Monitor.on_exec` looks at processes the moment they exec (the kernel's proc connector,
`execwatch`), so a reverse shell typed as one command line is caught without waiting
for a poll, and a shell started on a socket is caught by its descriptors right away.
`Monitor.on_net` turns what coi's nftables rules logged (`nflog`) into findings.

Everything here only reads the host's `/proc` and `/sys/fs/cgroup`; nothing runs in
the container, where the agent could tamper with it. Imports stay light: this runs in
the long-lived supervisor of every session (see docs/monitoring.md, memory).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from coi.monitor import detectors, iocount
from coi.monitor.cgroup import cgroup_pids
from coi.monitor.findings import Deduper, Finding, Severity
from coi.monitor.procs import Snapshot, scan
from coi.monitor.rates import ReadRateTracker, process_count

if TYPE_CHECKING:
    from coi.config.model import Monitoring
    from coi.monitor.netevents import DnsRate
    from coi.monitor.nflog import NetEvent

PROC = Path("/proc")
ONE_LINER_RULES = frozenset({"python-socket", "perl-socket", "ruby-socket", "php-fsockopen"})
SPAWN_WINDOW = 5.0  # seconds over which the spawn rate is averaged


@dataclass(frozen=True)
class Settings:
    """The `[monitoring]` settings a session was started with (the supervisor reads no
    config), plus what the session's rules chose: the nflog group."""

    poll_interval: float = 0.5
    auto_pause_on_high: bool = True
    auto_kill_on_critical: bool = True
    file_read_threshold_mb: float = 50.0
    file_read_rate_mb_per_sec: float = 10.0
    process_count_threshold: int = 500
    process_limit: int = 0  # limits.processes; 0: none
    process_spawn_rate_per_sec: int = 50
    reverse_shell_one_liners: str = "critical"
    audit_log_retention_days: int = 30
    nft: bool = True
    nflog_group: int | None = None
    dns_query_threshold: int = 100

    @classmethod
    def from_config(cls, mon: Monitoring, process_limit: int,
                    nflog_group: int | None) -> Settings:
        """From the `[monitoring]` section, the container's `limits.processes` and the
        nflog group its rules log to."""
        return cls(
            poll_interval=float(mon.poll_interval_sec),
            auto_pause_on_high=mon.auto_pause_on_high,
            auto_kill_on_critical=mon.auto_kill_on_critical,
            file_read_threshold_mb=mon.file_read_threshold_mb,
            file_read_rate_mb_per_sec=mon.file_read_rate_mb_per_sec,
            process_count_threshold=mon.process_count_threshold,
            process_limit=process_limit,
            process_spawn_rate_per_sec=mon.process_spawn_rate_per_sec,
            reverse_shell_one_liners=mon.reverse_shell_one_liners,
            audit_log_retention_days=mon.audit_log_retention_days,
            nft=mon.nft.enabled, nflog_group=nflog_group,
            dns_query_threshold=mon.nft.dns_query_threshold)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        data = json.loads(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def process_warning_at(self) -> int:
        """Processes that count as an explosion: the configured threshold, or 80 % of
        the container's process limit when that is lower."""
        limits = [self.process_count_threshold]
        if self.process_limit > 0:
            limits.append(int(self.process_limit * 0.8))
        return max(1, min(limits))


class Monitor:
    """Findings about one running container. Not thread-safe: one loop calls it."""

    def __init__(self, container: str, settings: Settings, cgroup_dir: Path,
                 proc_root: Path = PROC) -> None:
        self.container = container
        self.settings = settings
        self.cgroup_dir = cgroup_dir
        self.proc_root = proc_root
        self.deduper = Deduper(window_s=30.0)
        self.reads = iocount.ReadAccounting()
        self.read_rate = ReadRateTracker(settings.file_read_threshold_mb,
                                         settings.file_read_rate_mb_per_sec)
        self._known: set[int] = set()
        self._spawns: list[tuple[float, int]] = []
        self._dns: DnsRate | None = None
        self._cgroup_marker = f"/{cgroup_dir.name}/"
        self.last_snapshot: Snapshot | None = None

    # -- the periodic poll ---------------------------------------------------------

    def poll(self, now: float | None = None) -> list[Finding]:
        now = time.monotonic() if now is None else now
        pids = cgroup_pids(self.cgroup_dir)
        snapshot = scan(self.proc_root, pids, detectors.socket_on_stdio)
        self.last_snapshot = snapshot
        found = self._adjust(detectors.detect(snapshot))
        found += self._reads(snapshot, now)
        found += self._processes(pids, now)
        return self._new(found, now)

    def _reads(self, snapshot: Snapshot, now: float) -> list[Finding]:
        samples = {}
        for proc in snapshot.procs:
            rchar = iocount.read_chars(self.proc_root, proc.pid)
            if rchar is not None:
                samples[proc.pid] = (rchar, proc.ppid)
        net = {}
        for proc in snapshot.procs:
            if proc.netns and proc.netns not in net:
                net[proc.netns] = iocount.net_rx_bytes(self.proc_root, proc.pid)
        total = self.reads.update(samples, net)
        finding = self.read_rate.update(total, now)
        return [finding] if finding is not None else []

    def _processes(self, pids: list[int], now: float) -> list[Finding]:
        found = []
        count = process_count(len(pids), self.settings.process_warning_at, ratio=1.0)
        if count is not None:
            found.append(count)
        current = set(pids)
        if self._known:
            self._spawns.append((now, len(current - self._known)))
        self._known = current
        self._spawns = [(t, n) for t, n in self._spawns if t > now - SPAWN_WINDOW]
        if not self._spawns:
            return found
        # Each entry counts what appeared during the interval before it.
        span = now - self._spawns[0][0] + self.settings.poll_interval
        rate = sum(n for _, n in self._spawns) / span
        limit = self.settings.process_spawn_rate_per_sec
        if limit > 0 and rate > limit:
            found.append(Finding(Severity.WARNING, "process_spawn", "Process spawn rate high",
                                 {"per_second": round(rate, 1), "threshold": limit,
                                  "processes": len(pids)}, key="spawn"))
        return found

    # -- events between polls ------------------------------------------------------

    def on_exec(self, pids: Iterable[int], now: float | None = None) -> list[Finding]:
        """Look at processes that just exec'd (host pids from the proc connector)."""
        mine = [pid for pid in pids if self.owns(pid)]
        if not mine:
            return []
        now = time.monotonic() if now is None else now
        snapshot = scan(self.proc_root, mine, detectors.socket_on_stdio)
        return self._new(self._adjust(detectors.detect(snapshot)), now)

    def owns(self, pid: int) -> bool:
        """Whether `pid` is in this container's cgroup (tree)."""
        try:
            with open(f"{self.proc_root}/{pid}/cgroup", "rb") as handle:
                text = handle.read().decode(errors="replace")
        except OSError:
            return False
        # Each line is `hierarchy:controllers:path`; the path is the cgroup or below it.
        return any(f"{line.split(':', 2)[-1]}/".startswith(self._cgroup_marker)
                   for line in text.splitlines())

    def on_net(self, events: Iterable[NetEvent], now: float | None = None) -> list[Finding]:
        from coi.monitor import netevents

        now = time.monotonic() if now is None else now
        if self._dns is None:
            self._dns = netevents.DnsRate(self.settings.dns_query_threshold)
        dns = self._dns
        found = []
        prefix = f"coi:{self.container}:"
        for event in events:
            if not event.prefix.startswith(prefix):
                continue
            finding = netevents.classify(event)
            if finding is not None:
                found.append(finding)
            if event.prefix[len(prefix):].strip() == "dns":
                rate = dns.update(now)
                if rate is not None:
                    found.append(rate)
        return self._new(found, now)

    # -- shared ----------------------------------------------------------------------

    def _adjust(self, found: list[Finding]) -> list[Finding]:
        """Apply `reverse_shell_one_liners` to interpreter one-liners matched by
        command line only (the descriptor check is not a one-liner guess)."""
        level = self.settings.reverse_shell_one_liners
        if level == "critical":
            return found
        kept = [f for f in found
                if level != "off" or f.evidence.get("pattern") not in ONE_LINER_RULES]
        return [replace(f, severity=Severity.WARNING)
                if f.evidence.get("pattern") in ONE_LINER_RULES else f for f in kept]

    def _new(self, found: list[Finding], now: float) -> list[Finding]:
        return [f for f in found if self.deduper.is_new(f, now)]
