"""A container's cgroup (v2) as seen from the host: its pids and its I/O counters.

Incus puts a container under `/sys/fs/cgroup/lxc.payload.<name>/`; the caller passes
that directory. The files are summed over the whole subtree, because the payload
creates its own children (`init.scope`, `system.slice`, …).
"""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def payload_dir(container: str, root: Path = CGROUP_ROOT) -> Path:
    return root / f"lxc.payload.{container}"


def _subtree_files(cgroup_dir: Path, name: str) -> list[Path]:
    found = []
    for dirpath, _dirs, files in os.walk(cgroup_dir):
        if name in files:
            found.append(Path(dirpath) / name)
    return found


def cgroup_pids(cgroup_dir: Path) -> list[int]:
    """Every pid (host numbering) in the cgroup subtree."""
    pids: set[int] = set()
    for path in _subtree_files(cgroup_dir, "cgroup.procs"):
        try:
            pids.update(int(line) for line in path.read_text().split())
        except (OSError, ValueError):
            continue
    return sorted(pids)


def parse_io_stat(text: str) -> int:
    """Bytes read, summed over devices: lines like `8:0 rbytes=123 wbytes=4 …`."""
    total = 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if key == "rbytes" and value.isdigit():
                total += int(value)
    return total


def read_bytes(cgroup_dir: Path) -> int:
    """Cumulative bytes the container read from block devices. A cgroup's io.stat
    already includes its descendants, so only the top file is read."""
    return parse_io_stat((cgroup_dir / "io.stat").read_text())


def cgroup_name(container: str, project: str = "default") -> str:
    """Incus prefixes the instances of other projects with `<project>_`."""
    return container if project in ("", "default") else f"{project}_{container}"


def find_payload_dir(container: str, project: str = "default",
                     root: Path = CGROUP_ROOT) -> Path | None:
    """The container's cgroup where its processes are listed: the unified (v2)
    hierarchy at the root (pure v2) or under `unified/` (hybrid), else v1's `pids`
    controller. None when the container has no cgroup (not running)."""
    name = f"lxc.payload.{cgroup_name(container, project)}"
    for base in (root, root / "unified", root / "pids"):
        candidate = base / name
        if (candidate / "cgroup.procs").exists():
            return candidate
    return None
