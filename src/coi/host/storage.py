"""Storage pool choices: driver, size, and the create request.

A copy-on-write pool (btrfs on a loop file) makes a container in ~0.1 s; a `dir` pool
unpacks the whole image for every launch (~3.3 s here), so btrfs is the default.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from coi.errors import SetupError, UsageError

COW_DRIVERS = frozenset({"btrfs", "zfs", "lvm", "lvmcluster", "ceph"})
UNITS = {"": 1, "b": 1,
         "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
         "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
         "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
GIB = 1024**3
MIN_POOL = 2 * GIB  # the base image alone is ~250 MiB; below this a pool is useless
FREE_SHARE = 0.8  # never take more than this share of the free space for the loop file
INCUS_DIR = Path(os.environ.get("INCUS_DIR", "/var/lib/incus"))


def parse_size(text: str) -> int:
    """'30GiB', '50GB', '10G', '512MiB' → bytes (bare K/M/G/T are binary, as in Incus)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in UNITS:
        raise UsageError(f"not a size: {text!r}", hint="use a value like 30GiB or 512MiB")
    return int(float(match.group(1)) * UNITS[unit])


def format_size(size: int) -> str:
    """Bytes → the largest whole binary unit Incus accepts ('30GiB', '1536MiB')."""
    for unit, factor in (("TiB", 1024**4), ("GiB", GIB), ("MiB", 1024**2)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size // 1024**2}MiB"


def fit_size(requested: int, free: int) -> int:
    """The loop file size: what was asked, capped to a share of the free space."""
    cap = int(free * FREE_SHARE) // GIB * GIB
    size = min(requested, cap)
    if size < MIN_POOL:
        raise SetupError(
            f"storage pool: only {free / GIB:.1f} GiB free under {INCUS_DIR}, "
            f"need at least {MIN_POOL // GIB / FREE_SHARE:.1f} GiB",
            hint="free some disk space, or use `--storage dir`",
        )
    return size


def free_bytes(path: Path = INCUS_DIR) -> int:
    """Free space of the filesystem that will hold the loop file."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def choose_driver(requested: str, supported: list[str]) -> str:
    """`auto` picks btrfs when the daemon supports it, else dir; explicit choices must work."""
    if requested == "auto":
        return "btrfs" if "btrfs" in supported else "dir"
    if requested not in supported:
        raise SetupError(
            f"storage pool: the Incus daemon does not support {requested} here "
            f"(it supports: {', '.join(supported) or 'nothing'})",
            hint="install btrfs-progs and restart Incus, or use `--storage dir`",
        )
    return requested


def supported_drivers(server_info: dict[str, Any]) -> list[str]:
    env = server_info.get("environment") or {}
    return [str(d.get("Name", "")) for d in env.get("storage_supported_drivers") or []
            if not d.get("Remote")]


def pool_request(name: str, driver: str, size: int) -> dict[str, Any]:
    config = {"size": format_size(size)} if driver != "dir" else {}
    return {"name": name, "driver": driver, "config": config,
            "description": "coi: containers and images"}


def is_cow(driver: str) -> bool:
    return driver in COW_DRIVERS
