"""`coi health` checks for the security monitor's sources: each says what is lost
without it. None of them is fatal (sessions still run and are still watched by polling),
so a missing source is a warning (degraded), never a failure.

The kernel sources (exec events, nflog, nftables notifications) are tried for real:
opened, and closed again at once. Their modules are imported inside the checks, so
`coi health` works (and says "not available in this build") where they are missing.
"""

from __future__ import annotations

import importlib
import os
import random
from pathlib import Path

from coi.errors import CoiError
from coi.host.health import CheckResult, Status, result
from coi.host.health_probe import Probe

PROC_ROOT = Path("/proc")
ROOT_FIX = ("run sessions as root (`sudo coi shell …`): the session supervisor runs as "
            "the user who starts the session")
NOT_BUILT = "not available in this build"
# nflog groups tried for the scratch bind (sessions pick theirs from the live table).
SCRATCH_GROUPS = range(64000, 65500)


def _other_users_pid(proc_root: Path) -> int | None:
    """A process of another user (pid 1 on any sane host)."""
    me = os.geteuid()
    for entry in ("1", *sorted(os.listdir(proc_root))[:400]):
        if entry.isdigit():
            try:
                if (proc_root / entry).stat().st_uid != me:
                    return int(entry)
            except OSError:
                continue
    return None


def check_proc(probe: Probe, proc_root: Path | None = None) -> CheckResult:
    """Can this process read other users' /proc/<pid>/fd and io (what root can)?"""
    root = proc_root or PROC_ROOT
    name = "monitor-proc"
    lost = ("without it the monitor cannot see open descriptors and read counters of "
            "container processes: reverse shells by socket descriptor, environ reads by "
            "open file and workspace read volume go undetected; `coi monitor` shows less")
    pid = _other_users_pid(root)
    if pid is None:
        return result(name, Status.OK, "no other user's process to test with",
                      details={"euid": os.geteuid()})
    try:
        os.listdir(root / str(pid) / "fd")
        (root / str(pid) / "io").read_bytes()
    except OSError as exc:
        return result(name, Status.WARN, f"cannot read other users' /proc/<pid>/fd and io "
                      f"({exc.strerror or exc}): {lost}", ROOT_FIX,
                      details={"euid": os.geteuid(), "tested_pid": pid})
    return result(name, Status.OK, "reads other users' /proc/<pid>/fd and io "
                  "(process, descriptor and read-counter scans work)",
                  details={"euid": os.geteuid(), "tested_pid": pid})


def check_cgroup(probe: Probe) -> CheckResult:
    """A cgroup v2 (unified) hierarchy: where a container's processes are listed."""
    name = "monitor-cgroup"
    root = probe.cgroup_root
    if (root / "cgroup.controllers").exists():
        return result(name, Status.OK, f"cgroup v2 at {root}: every process of a container "
                      "is found, nested pid namespaces included",
                      details={"layout": "v2", "path": str(root)})
    if (root / "unified" / "cgroup.procs").exists():
        return result(name, Status.OK, f"cgroup v2 hierarchy at {root / 'unified'} (hybrid "
                      "host): every process of a container is found, nested pid "
                      "namespaces included", details={"layout": "hybrid",
                                                      "path": str(root / "unified")})
    return result(name, Status.WARN, "no cgroup v2 hierarchy (neither "
                  f"{root}/cgroup.controllers nor {root}/unified): processes in nested pid "
                  "namespaces (docker inside the container) are not watched, and exec "
                  "events cannot be matched to a container",
                  "mount cgroup v2 (systemd.unified_cgroup_hierarchy=1, or the hybrid "
                  "`unified` hierarchy)", details={"layout": "v1"})


def _source(name: str, what: str, module: str, attr: str, *, ok: str, lost: str,
            fix: str) -> CheckResult:
    """Open the kernel source `module.attr()` and close it again; WARN when it cannot."""
    try:
        opener = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return result(name, Status.WARN, f"{what}: {NOT_BUILT}: {lost}", "update coi")
    try:
        handle = opener()
    except (CoiError, OSError) as exc:  # KernelSourceError is a CoiError
        return result(name, Status.WARN, f"no {what} ({_text(exc)}): {lost}", fix)
    handle.close()
    return result(name, Status.OK, ok)


def check_exec(probe: Probe) -> CheckResult:
    return _source("monitor-exec", "exec events from the kernel", "coi.monitor.execwatch",
                   "ExecWatch", ok="exec events from the kernel (proc connector): "
                   "short-lived commands are seen as they start",
                   lost="commands that run between two polls (poll_interval_sec) can be "
                   "missed; polling still catches whatever lives longer",
                   fix="run coi as root in the host's initial namespaces")


def check_nflog(probe: Probe) -> CheckResult:
    name = "monitor-nflog"
    lost = ("network events (private ranges, metadata endpoint, suspicious ports, DNS "
            "rate, refused connections) are not reported; the network policy itself "
            "still blocks")
    try:
        from coi.monitor.netlink import KernelSourceError
        from coi.monitor.nflog import NflogSocket
    except ImportError:
        return result(name, Status.WARN, f"nflog: {NOT_BUILT}: {lost}", "update coi")
    error: Exception | None = None
    for group in random.sample(SCRATCH_GROUPS, 3):
        try:
            sock = NflogSocket(group)
        except (KernelSourceError, OSError) as exc:
            error = exc
            if "taken" in _text(exc):
                continue  # someone owns that group: try another
            break
        sock.close()
        return result(name, Status.OK, "nflog works (a scratch group bound): network "
                      "events are read as packets are logged", details={"group": group})
    return result(name, Status.WARN, f"cannot read nflog ({_text(error)}): {lost}",
                  f"{ROOT_FIX}; load nfnetlink_log (`modprobe nfnetlink_log`)")


def check_nftwatch(probe: Probe) -> CheckResult:
    return _source("monitor-nft", "nftables change events", "coi.monitor.nftwatch",
                   "NftWatch", ok="nftables change events: a changed or deleted coi rule "
                   "is checked the moment it happens",
                   lost="a change to coi's nftables rules is noticed by the periodic check "
                   "only (repaired or paused later, not at once)", fix=ROOT_FIX)


def _text(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    message = getattr(exc, "message", None)
    return str(message or exc)


CHECKS = [("monitor-proc", check_proc), ("monitor-cgroup", check_cgroup),
          ("monitor-exec", check_exec), ("monitor-nflog", check_nflog),
          ("monitor-nft", check_nftwatch)]
