"""A container's processes, read from the host's `/proc`.

Membership comes either from the pid namespace (`/proc/<pid>/ns/pid` equal to the
container init's; the init pid is Incus state's `pid`) or from the container's cgroup
(`cgroup.pids`, which also catches processes in nested pid namespaces). Every function
takes `proc_root` so tests can point it at a fake tree. A process may exit at any
moment; whatever vanished mid-read is skipped, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from coi.monitor.netstat import Socket, read_sockets


@dataclass(frozen=True)
class Proc:
    pid: int  # host pid
    ppid: int  # host pid of the parent
    name: str  # comm, at most 15 characters
    uid: int  # real uid as the host sees it (shifted for unprivileged containers)
    ns_pid: int  # pid inside the innermost pid namespace
    cmdline: tuple[str, ...]
    fds: dict[int, str] = field(default_factory=dict)  # fd → readlink target
    netns: str = ""

    @property
    def command(self) -> str:
        return " ".join(self.cmdline) if self.cmdline else f"[{self.name}]"

    @property
    def exe_name(self) -> str:
        """argv[0]'s base name, else comm."""
        return os.path.basename(self.cmdline[0]) if self.cmdline else self.name

    def evidence(self) -> dict[str, object]:
        return {"pid": self.pid, "ppid": self.ppid, "ns_pid": self.ns_pid,
                "uid": self.uid, "name": self.name, "cmdline": self.command}


@dataclass(frozen=True)
class Snapshot:
    """One scan of a container: its processes and the inet sockets of their netns."""

    procs: tuple[Proc, ...]
    sockets: dict[int, Socket]

    def socket_of(self, target: str) -> Socket | None:
        """The inet socket an fd target like `socket:[123]` names, if any."""
        if not (target.startswith("socket:[") and target.endswith("]")):
            return None
        try:
            return self.sockets.get(int(target[8:-1]))
        except ValueError:
            return None


def _link(path: Path | str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def host_pids(proc_root: Path) -> list[int]:
    with os.scandir(proc_root) as entries:
        return [int(e.name) for e in entries if e.name.isdigit()]


def container_pids(proc_root: Path, init_pid: int) -> list[int]:
    """Host pids that share the pid namespace of `init_pid` (including it)."""
    target = _link(proc_root / str(init_pid) / "ns" / "pid")
    if target is None:
        return []
    root = str(proc_root)  # plain strings: pathlib costs more than the syscalls here
    return sorted(p for p in host_pids(proc_root) if _link(f"{root}/{p}/ns/pid") == target)


def _read(path: str) -> bytes:
    with open(path, "rb", buffering=0) as handle:
        return handle.read()


def read_status(proc_root: Path, pid: int) -> dict[str, str]:
    text = _read(f"{proc_root}/{pid}/status").decode(errors="replace")
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def read_cmdline(proc_root: Path, pid: int) -> tuple[str, ...]:
    raw = _read(f"{proc_root}/{pid}/cmdline")
    return tuple(a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0") if raw)


def read_fds(proc_root: Path, pid: int) -> dict[int, str]:
    fd_dir = f"{proc_root}/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return {}
    fds = {}
    for name in names:
        target = _link(f"{fd_dir}/{name}")
        if target is not None and name.isdigit():
            fds[int(name)] = target
    return fds


def read_proc(proc_root: Path, pid: int) -> Proc | None:
    """One process, or None when it is gone (or a kernel thread without status)."""
    try:
        status = read_status(proc_root, pid)
        cmdline = read_cmdline(proc_root, pid)
    except OSError:
        return None
    try:
        uid = int(status.get("Uid", "-1").split()[0])
        ns_pids = status.get("NSpid", str(pid)).split()
        ppid, ns_pid = int(status.get("PPid", "0")), int(ns_pids[-1])
    except (ValueError, IndexError):
        return None
    netns = _link(f"{proc_root}/{pid}/ns/net") or ""
    return Proc(pid, ppid, status.get("Name", ""), uid, ns_pid, cmdline,
                read_fds(proc_root, pid), netns)


def scan(proc_root: Path, pids: Iterable[int],
         needs_sockets: Callable[[Proc], bool] | None = None) -> Snapshot:
    """Read `pids` and the socket tables of the network namespaces they are in; with
    `needs_sockets`, only of the namespaces where a process needs them. Reading a
    table costs the kernel a walk over every socket of the host (~0.7 ms on a busy
    one), so the monitor's polls ask only when a shell has a socket on its stdio."""
    procs = tuple(p for p in (read_proc(proc_root, pid) for pid in pids) if p is not None)
    wanted = procs if needs_sockets is None else [p for p in procs if needs_sockets(p)]
    sockets: dict[int, Socket] = {}
    for netns, pid in _one_pid_per_netns(wanted).items():
        if netns:
            sockets.update(read_sockets(proc_root, pid))
    return Snapshot(procs, sockets)


def scan_container(proc_root: Path, init_pid: int) -> Snapshot:
    return scan(proc_root, container_pids(proc_root, init_pid))


def _one_pid_per_netns(procs: Iterable[Proc]) -> dict[str, int]:
    chosen: dict[str, int] = {}
    for proc in procs:
        chosen.setdefault(proc.netns, proc.pid)
    return chosen
