"""`coi monitor`'s data: one security snapshot of a container, read from the HOST.

Nothing runs inside the container. Processes come from the host `/proc` (the pid
namespace of the container's init, plus its cgroup's `cgroup.procs` for nested
namespaces), connections from its network namespace's socket tables joined to the
processes' descriptors, reads from `/proc/<pid>/io` (`rchar`, via `coi.monitor.iocount`)
net of what the network delivered, threats from the audit log, and the monitor's state
from the container's `user.coi.monitor` marker and the session's run lock.

`gather` reads the host once (`Sample`); `build` turns the latest sample (and the one
before it, for rates) into a `View`. Whatever cannot be read without root is named in
`View.missing` instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coi.monitor import iocount
from coi.monitor import procs as procs_mod
from coi.monitor.procs import Snapshot

PROC_ROOT = Path("/proc")
MB = 1_000_000
THREATS_SHOWN = 10

NEEDS_ROOT_FDS = ("open descriptors (which process owns which connection) need root: run "
                  "`sudo coi monitor`")
NEEDS_ROOT_IO = "per-process read counters (/proc/<pid>/io) need root: run `sudo coi monitor`"
NO_PROCS = ("the container's processes could not be read (no pid namespace link or cgroup "
            "found; root is needed on most hosts)")


def cgroup_dir(container: str, project: str = "default") -> Path | None:
    """The container's payload cgroup (v2, hybrid `unified`, or v1 `pids`), if any."""
    from coi.monitor.cgroup import find_payload_dir

    return find_payload_dir(container, project)


# -- one read of the host ------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """What one pass over the host saw. `rchar`: bytes read per host pid (absent when
    unreadable); `net_rx`: bytes the container's network namespace received."""

    at: float  # time.monotonic()
    snapshot: Snapshot
    rchar: dict[int, int] = field(default_factory=dict)
    net_rx: int | None = None
    disk_read: int | None = None
    io_missing: str | None = None
    uid_map: tuple[tuple[int, int, int], ...] = ()
    users: dict[int, str] = field(default_factory=dict)


def container_pid_set(proc_root: Path, init_pid: int, cgroup: Path | None) -> list[int]:
    """The pid namespace members of `init_pid` and the pids of its cgroup subtree."""
    from coi.monitor.cgroup import cgroup_pids

    pids = set(procs_mod.container_pids(proc_root, init_pid)) if init_pid > 0 else set()
    if cgroup is not None:
        pids.update(cgroup_pids(cgroup))
    if init_pid > 0 and (proc_root / str(init_pid)).exists():
        pids.add(init_pid)
    return sorted(pids)


def gather(proc_root: Path, init_pid: int, cgroup: Path | None = None,
           now: float | None = None) -> Sample:
    """Read the container's processes, sockets and counters from the host once."""
    pids = container_pid_set(proc_root, init_pid, cgroup)
    snapshot = procs_mod.scan(proc_root, pids)
    at = time.monotonic() if now is None else now
    rchar: dict[int, int] = {}
    for proc in snapshot.procs:
        value = iocount.read_chars(proc_root, proc.pid)
        if value is not None:
            rchar[proc.pid] = value
    io_missing = NEEDS_ROOT_IO if snapshot.procs and not rchar else None
    net_rx = iocount.net_rx_bytes(proc_root, init_pid) if init_pid > 0 else None
    return Sample(at, snapshot, rchar, net_rx, _disk_read(cgroup), io_missing,
                  read_uid_map(proc_root, init_pid), read_users(proc_root, init_pid))


def _disk_read(cgroup: Path | None) -> int | None:
    from coi.monitor.cgroup import read_bytes

    if cgroup is None:
        return None
    try:
        return read_bytes(cgroup)
    except OSError:
        return None  # hybrid hosts keep io in the v1 blkio hierarchy


def read_uid_map(proc_root: Path, pid: int) -> tuple[tuple[int, int, int], ...]:
    """(inside, outside, count) ranges of `pid`'s user namespace (world-readable)."""
    if pid <= 0:
        return ()
    try:
        text = (proc_root / str(pid) / "uid_map").read_text()
    except OSError:
        return ()
    ranges = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            ranges.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return tuple(ranges)


def inside_uid(host_uid: int, uid_map: Sequence[tuple[int, int, int]]) -> int | None:
    """The uid inside the container of a host uid, or None when it is not mapped."""
    for inside, outside, count in uid_map:
        if outside <= host_uid < outside + count:
            return inside + host_uid - outside
    return None if uid_map else host_uid


def read_users(proc_root: Path, pid: int) -> dict[int, str]:
    """Container uids → names from the container's /etc/passwd, read through the host's
    `/proc/<init>/root` (root only; names are for display, never trusted)."""
    if pid <= 0:
        return {}
    try:
        text = (proc_root / str(pid) / "root" / "etc" / "passwd").read_text(errors="replace")
    except OSError:
        return {}
    users: dict[int, str] = {}
    for line in text.splitlines()[:2000]:
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            users.setdefault(int(parts[2]), parts[0][:32])
    return users


# -- the view ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcRow:
    pid: int
    ns_pid: int
    ppid: int
    uid: int | None  # inside the container
    user: str
    command: str

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "ns_pid": self.ns_pid, "ppid": self.ppid, "uid": self.uid,
                "user": self.user, "command": self.command}


@dataclass(frozen=True)
class ConnRow:
    proto: str
    local: str
    remote: str
    state: str
    pid: int | None  # host pid of a process holding it (None: unknown or none)
    inode: int

    def to_json(self) -> dict[str, Any]:
        return {"proto": self.proto, "local": self.local, "remote": self.remote,
                "state": self.state, "pid": self.pid, "inode": self.inode}


@dataclass(frozen=True)
class Io:
    """Bytes read by the container's running processes (`rchar`: files, pipes and
    sockets), what the network delivered, and the file read rate between two samples
    (reads net of network receive, never below 0)."""

    read_bytes: int | None
    net_rx_bytes: int | None
    disk_read_bytes: int | None
    rate_bytes_s: float | None
    interval_s: float | None

    def to_json(self) -> dict[str, Any]:
        def mb(value: float | None) -> float | None:
            return None if value is None else round(value / MB, 3)

        return {"read_bytes": self.read_bytes, "read_mb": mb(self.read_bytes),
                "net_rx_bytes": self.net_rx_bytes, "disk_read_bytes": self.disk_read_bytes,
                "rate_mb_s": mb(self.rate_bytes_s), "interval_s": self.interval_s}


@dataclass(frozen=True)
class MonitorState:
    marker: dict[str, Any] | None  # the `user.coi.monitor` marker
    supervised: bool  # a coi process (the session supervisor) holds the run lock

    @property
    def state(self) -> str:
        if self.marker:
            return "killed" if self.marker.get("state") == "killed" else "paused"
        return "watching" if self.supervised else "unwatched"

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "supervised": self.supervised, "marker": self.marker}


@dataclass(frozen=True)
class View:
    container: str
    status: str
    init_pid: int
    time: str  # when (UTC, ISO 8601)
    processes: tuple[ProcRow, ...]
    connections: tuple[ConnRow, ...]
    io: Io
    threats: tuple[dict[str, Any], ...]
    monitor: MonitorState
    missing: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"container": self.container, "status": self.status, "time": self.time,
                "init_pid": self.init_pid, "monitor": self.monitor.to_json(),
                "processes": [p.to_json() for p in self.processes],
                "connections": [c.to_json() for c in self.connections],
                "io": self.io.to_json(), "threats": list(self.threats),
                "missing": list(self.missing)}


def process_rows(sample: Sample) -> tuple[ProcRow, ...]:
    rows = []
    for proc in sample.snapshot.procs:
        uid = inside_uid(proc.uid, sample.uid_map)
        user = sample.users.get(uid, str(uid)) if uid is not None else f"host:{proc.uid}"
        rows.append(ProcRow(proc.pid, proc.ns_pid, proc.ppid, uid, user, proc.command))
    return tuple(sorted(rows, key=lambda r: (r.ns_pid, r.pid)))


def connection_rows(snapshot: Snapshot) -> tuple[ConnRow, ...]:
    owner: dict[int, int] = {}
    for proc in snapshot.procs:
        for target in proc.fds.values():
            sock = snapshot.socket_of(target)
            if sock is not None:
                owner.setdefault(sock.inode, proc.pid)
    rows = [ConnRow(s.proto, f"{_host(s.local_addr)}:{s.local_port}",
                    f"{_host(s.remote_addr)}:{s.remote_port}", _state(s.proto, s.state),
                    owner.get(s.inode), s.inode)
            for s in snapshot.sockets.values()]
    return tuple(sorted(rows, key=lambda c: (c.state != "ESTABLISHED", c.proto, c.local)))


def _state(proto: str, state: str) -> str:
    """UDP sockets without a peer show the kernel's CLOSE: `ss` calls that UNCONN."""
    return "UNCONN" if proto.startswith("udp") and state == "CLOSE" else state


def _host(addr: str) -> str:
    return f"[{addr}]" if ":" in addr else addr


def io_of(sample: Sample, previous: Sample | None) -> Io:
    """The read rate between two samples counted as the monitor counts it
    (`iocount.ReadAccounting`: a reaped child once, network receive taken off)."""
    total = sum(sample.rchar.values()) if sample.rchar else None
    rate = interval = None
    if previous is not None and sample.rchar and sample.at > previous.at:
        interval = round(sample.at - previous.at, 3)
        reads = iocount.ReadAccounting()
        reads.update(*_counters(previous))
        rate = reads.update(*_counters(sample)) / (sample.at - previous.at)
    return Io(total, sample.net_rx, sample.disk_read, rate, interval)


def _counters(sample: Sample) -> tuple[dict[int, tuple[int, int]], dict[str, int]]:
    """A sample as `ReadAccounting.update` takes it: (rchar, ppid) per pid, and the
    receive count of the one network namespace read."""
    procs = {p.pid: (sample.rchar[p.pid], p.ppid) for p in sample.snapshot.procs
             if p.pid in sample.rchar}
    return procs, ({"netns": sample.net_rx} if sample.net_rx is not None else {})


def missing_of(sample: Sample, status: str, init_pid: int) -> tuple[str, ...]:
    notes = []
    procs = sample.snapshot.procs
    if status in ("Running", "Frozen") and init_pid > 0 and not procs:
        notes.append(NO_PROCS)
    if procs and not any(p.fds for p in procs):
        notes.append(NEEDS_ROOT_FDS)
    if sample.io_missing:
        notes.append(sample.io_missing)
    return tuple(notes)


def build(container: str, status: str, init_pid: int, sample: Sample,
          previous: Sample | None = None, *, threats: Iterable[dict[str, Any]] = (),
          monitor: MonitorState | None = None, when: str | None = None) -> View:
    from datetime import UTC, datetime

    return View(container, status, init_pid,
                when or datetime.now(UTC).isoformat(timespec="seconds"),
                process_rows(sample), connection_rows(sample.snapshot),
                io_of(sample, previous), tuple(threats),
                monitor or MonitorState(None, False), missing_of(sample, status, init_pid))


# -- the sources outside /proc -------------------------------------------------------------


def recent_threats(coi_home: Path, container: str,
                   count: int = THREATS_SHOWN) -> list[dict[str, Any]]:
    """The container's last `count` audit events (rotated files included), oldest first."""
    from coi.monitor.audit import audit_dir
    from coi.monitor.rotation import read_all

    directory = audit_dir(coi_home)
    if not directory.is_dir():
        return []
    return read_all(directory, container)[-count:] if count > 0 else []


@dataclass
class Monitor:
    """A container under `coi monitor`: asks Incus for its state, reads the host, keeps
    the previous sample so every refresh has a rate."""

    client: Any  # coi.incus.client.Client
    container: str
    coi_home: Path
    proc_root: Path = PROC_ROOT
    threats: int = THREATS_SHOWN
    previous: Sample | None = None
    _cgroup: Path | None = None

    def sample(self) -> tuple[str, int, dict[str, Any] | None, Sample]:
        from coi.incus.instances import get
        from coi.session.listing import KEY_MONITOR, parse_monitor

        instance = get(self.client, self.container, with_state=True)
        live = instance.state
        status = live.status if live is not None and live.status else instance.status
        init_pid = live.pid if live is not None else 0
        if self._cgroup is None and init_pid > 0:
            self._cgroup = cgroup_dir(self.container,
                                      getattr(self.client, "project", None) or "default")
        marker = parse_monitor(instance.config.get(KEY_MONITOR))
        return status, init_pid, marker, gather(self.proc_root, init_pid, self._cgroup)

    def view(self, settle: float = 0.0) -> View:
        """A view; with `settle` > 0 and no earlier sample, sample twice `settle` seconds
        apart so the first view has a read rate too."""
        from coi.session.runlock import is_supervised

        if settle > 0 and self.previous is None:
            self.previous = self.sample()[3]
            time.sleep(settle)
        status, init_pid, marker, sample = self.sample()
        supervised = is_supervised(self.coi_home, self.container)
        view = build(self.container, status, init_pid, sample, self.previous,
                     threats=recent_threats(self.coi_home, self.container, self.threats),
                     monitor=MonitorState(marker, supervised))
        self.previous = sample
        return view

