"""Extra mounts (`--mount HOST:CONTAINER[:ro]`) and persistent storage (`--storage`).

The full mount-safety rules come with the isolation work; these are the ones that must
hold now: a mount must exist on the host, go to an absolute container path, and never
expose the host's root, your home directory (or a directory containing it) or ~/.ssh.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from coi.errors import PolicyError, UsageError
from coi.session.paths import WORKSPACE
from coi.state import Owner, make_dirs

STORAGE_TARGET = "/storage"


@dataclass(frozen=True)
class Mount:
    source: str  # absolute host path
    target: str  # absolute container path
    readonly: bool = False

    def device(self) -> dict[str, str]:
        spec = {"type": "disk", "source": self.source, "path": self.target}
        if self.readonly:
            spec["readonly"] = "true"
        return spec


def parse_mount(spec: str, *, cwd: str, home: Path) -> Mount:
    """`HOST:CONTAINER`, `HOST:CONTAINER:ro` or `HOST:CONTAINER:rw`."""
    parts = spec.split(":")
    readonly = False
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        readonly = parts.pop() == "ro"
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"invalid --mount {spec!r}", hint="use --mount HOST:CONTAINER[:ro]")
    host = os.path.normpath(os.path.join(cwd, os.path.expanduser(parts[0])))
    mount = Mount(host, parts[1], readonly)
    check_mount(mount, home)
    return mount


def check_mount(mount: Mount, home: Path) -> None:
    target = mount.target
    if not target.startswith("/") or ".." in target.split("/"):
        raise UsageError(f"mount target {target!r} must be an absolute container path")
    if posixpath.normpath(target) in ("/", WORKSPACE):
        raise UsageError(f"cannot mount over {posixpath.normpath(target)} in the container")
    if not os.path.exists(mount.source):
        raise UsageError(f"mount source {mount.source} does not exist")
    real = os.path.realpath(mount.source)
    real_home = os.path.realpath(home)
    if real == "/" or _inside(real_home, real):
        raise PolicyError(f"refusing to mount {mount.source}: it contains your home directory",
                          hint="mount the project directory you need instead")
    if _inside(real, os.path.join(real_home, ".ssh")):
        raise PolicyError(f"refusing to mount {mount.source}: SSH keys stay on the host")


def _inside(path: str, directory: str) -> bool:
    """`path` is `directory` or below it."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def storage_mount(value: str, *, storage_dir: Path, cwd: str, home: Path,
                  owner: Owner | None = None) -> Mount:
    """`--storage NAME` is `<paths.storage_dir>/NAME`; `--storage /path` (or `./path`)
    is that directory. Created if missing (given to `owner`, the workspace owner, so the
    code user can write to it); mounted at /storage."""
    if os.path.isabs(value) or value.startswith(("./", "../", "~")):
        source = os.path.normpath(os.path.join(cwd, os.path.expanduser(value)))
    else:
        if ".." in value.split("/"):
            raise UsageError(f"invalid --storage name {value!r}")
        source = str(storage_dir / value)
    make_dirs(Path(source), owner)
    mount = Mount(source, STORAGE_TARGET)
    check_mount(mount, home)
    return mount
