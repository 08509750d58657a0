"""Resource and time limits: `[limits]` / `--limit-*` -> Incus config keys and devices.

Formats are checked when the config loads (coi.config.checks); `validate` adds what needs
the host (CPU numbers, durations, whether a cgroup controller exists) and runs before
anything is created. A limit this host cannot enforce is refused, never dropped.

Measured here (cgroup v1 hybrid, Incus 6.0.4): limits.processes -> pids.max; limits.memory
-> memory.limit_in_bytes (+ memsw when swap is off); limits.cpu -> cpuset.cpus; a
percentage allowance -> cpu.shares (soft), "Nms/Mms" -> cpu.cfs_quota_us (hard); root-disk
limits.read/write -> blkio.throttle.*_bps_device on the pool's loop device.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coi.config.model import Limits
from coi.errors import PolicyError, UsageError

if TYPE_CHECKING:
    from coi.host.health import CheckResult

CGROUP_ROOT = Path("/sys/fs/cgroup")

# Config key -> the command-line flag, for error messages.
FLAGS: dict[str, str] = {
    "cpu": "--limit-cpu", "cpu_allowance": "--limit-cpu-allowance",
    "memory": "--limit-memory", "memory_swap": "--limit-memory-swap",
    "disk_read": "--limit-disk-read", "disk_write": "--limit-disk-write",
    "processes": "--limit-processes", "duration": "--limit-duration",
}
# Which cgroup files must exist (v1 directory, file) or (v2 controller) for each limit.
V1_NEEDS: dict[str, tuple[str, str]] = {
    "cpu": ("cpuset", "cpuset.cpus"), "cpu_allowance": ("cpu", "cpu.cfs_quota_us"),
    "memory": ("memory", "memory.limit_in_bytes"),
    "memory_swap": ("memory", "memory.memsw.limit_in_bytes"),
    "disk_read": ("blkio", "blkio.throttle.read_bps_device"),
    "disk_write": ("blkio", "blkio.throttle.write_bps_device"),
    "processes": ("pids", "cgroup.procs"),
}
V2_NEEDS: dict[str, str] = {
    "cpu": "cpuset", "cpu_allowance": "cpu", "memory": "memory", "memory_swap": "memory",
    "disk_read": "io", "disk_write": "io", "processes": "pids",
}
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


@dataclass(frozen=True)
class Enforceable:
    ok: bool
    how: str  # the cgroup file or controller that enforces it, or why it cannot


def parse_duration(text: str, flag: str = FLAGS["duration"]) -> int | None:
    """"1h30m" -> 5400 seconds; "" -> None (no limit)."""
    if text == "":
        return None
    match = _DURATION.fullmatch(text)
    if not text[:1].isdigit() or match is None:
        raise UsageError(f"{flag} {text!r}: expected a duration like 2h, 45m or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total == 0:
        raise UsageError(f"{flag} {text!r}: a duration must be longer than 0")
    return total


def requested(limits: Limits) -> list[str]:
    """The limits that are set (a bool swap counts only when it turns swap off)."""
    found = [key for key in ("cpu", "cpu_allowance", "memory", "disk_read", "disk_write",
                             "duration") if getattr(limits, key)]
    if limits.processes:
        found.append("processes")
    if limits.memory and not limits.memory_swap:
        found.append("memory_swap")
    return found


def validate(limits: Limits, enforceable: Mapping[str, Enforceable],
             cpus: int | None = None) -> None:
    """Everything short of creating the container: UsageError for a value the host
    cannot have, PolicyError for a limit it cannot enforce."""
    _check_cpu(limits.cpu, cpus or os.cpu_count() or 1)
    parse_duration(limits.duration)
    if not limits.memory_swap and not limits.memory:
        raise UsageError(f"{FLAGS['memory_swap']}=false needs {FLAGS['memory']}",
                         hint="swap can only be turned off together with a memory limit")
    refused = [f"{FLAGS[k]} ({enforceable[k].how})" for k in requested(limits)
               if k in enforceable and not enforceable[k].ok]
    if refused:
        raise PolicyError("this host cannot enforce " + ", ".join(refused),
                          hint="drop those limits, or enable the cgroup controllers "
                               "(see `coi health`)")


def _check_cpu(value: str, cpus: int) -> None:
    if value.isdigit() and int(value) > cpus:
        raise UsageError(f"{FLAGS['cpu']} {value}: this host has {cpus} CPUs",
                         hint=f"use a count from 1 to {cpus}, or a set like 0-{cpus - 1}")
    numbers = [int(n) for n in re.findall(r"\d+", value)] if not value.isdigit() else []
    if numbers and max(numbers) >= cpus:
        raise UsageError(f"{FLAGS['cpu']} {value}: CPU {max(numbers)} does not exist",
                         hint=f"CPUs on this host are numbered 0-{cpus - 1}")


def instance_config(limits: Limits) -> dict[str, str]:
    """Incus instance config keys for the create request."""
    config: dict[str, str] = {}
    if limits.cpu:
        config["limits.cpu"] = limits.cpu
    if limits.cpu_allowance:
        config["limits.cpu.allowance"] = limits.cpu_allowance
    if limits.memory:
        config["limits.memory"] = limits.memory
        config["limits.memory.enforce"] = "hard"
        config["limits.memory.swap"] = "true" if limits.memory_swap else "false"
    if limits.processes:
        config["limits.processes"] = str(limits.processes)
    return config


def root_device(limits: Limits, pool: str) -> dict[str, str] | None:
    """An instance-level root disk (overriding the profile's) carrying I/O limits;
    None when no disk limit is set. `pool` is the profile root device's pool."""
    if not (limits.disk_read or limits.disk_write):
        return None
    device = {"type": "disk", "path": "/", "pool": pool}
    if limits.disk_read:
        device["limits.read"] = limits.disk_read
    if limits.disk_write:
        device["limits.write"] = limits.disk_write
    return device


def enforceable_limits(root: Path = CGROUP_ROOT) -> dict[str, Enforceable]:
    """Which limits this host's cgroups can enforce. A controller counts when it is in
    the unified hierarchy (v2) or mounted as a v1 hierarchy with the file Incus writes."""
    v2 = _v2_controllers(root)
    found: dict[str, Enforceable] = {}
    for key, (directory, name) in V1_NEEDS.items():
        if V2_NEEDS[key] in v2:
            found[key] = Enforceable(True, f"cgroup v2 {V2_NEEDS[key]} controller")
        elif (root / directory / name).exists():
            found[key] = Enforceable(True, f"cgroup v1 {directory}/{name}")
        else:
            found[key] = Enforceable(False, f"no cgroup {V2_NEEDS[key]} controller "
                                            f"(v2) and no {directory}/{name} (v1)")
    found["duration"] = Enforceable(True, "coi's session supervisor stops the container")
    return found


def _v2_controllers(root: Path) -> set[str]:
    for candidate in (root / "cgroup.controllers", root / "unified" / "cgroup.controllers"):
        try:
            return set(candidate.read_text().split())
        except OSError:
            continue
    return set()


def check_limits(probe: object = None, root: Path = CGROUP_ROOT) -> CheckResult:
    """`coi health` check: which `--limit-*` flags this host can enforce."""
    from coi.host.health import Status, result

    found = enforceable_limits(root)
    broken = [FLAGS[k] for k, v in found.items() if not v.ok]
    details = {FLAGS[k]: {"ok": v.ok, "how": v.how} for k, v in found.items()}
    if broken:
        return result("limits", Status.WARN, "cannot enforce " + ", ".join(broken) +
                      " (coi refuses them)", "enable the missing cgroup controllers",
                      details=details)
    return result("limits", Status.OK, "all --limit-* flags can be enforced",
                  details=details)
