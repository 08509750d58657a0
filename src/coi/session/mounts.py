"""Extra mounts (`--mount HOST:CONTAINER[:ro]`) and persistent storage (`--storage`):
parsing the flags. What may be mounted is decided by coi.security.mounts (one set of
rules, also applied to the workspace itself).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from coi.errors import UsageError
from coi.security import mounts as rules
from coi.state import Owner, make_dirs

STORAGE_TARGET = "/storage"
Spec = tuple[str, str, bool]  # (host path, container path, read-only)


def parse_mount(spec: str, *, cwd: str) -> Spec:
    """`HOST:CONTAINER`, `HOST:CONTAINER:ro` or `HOST:CONTAINER:rw`; HOST made absolute."""
    parts = spec.split(":")
    readonly = False
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        readonly = parts.pop() == "ro"
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"invalid --mount {spec!r}", hint="use --mount HOST:CONTAINER[:ro]")
    host = os.path.normpath(os.path.join(cwd, os.path.expanduser(parts[0])))
    return host, parts[1], readonly


def storage_source(value: str, *, storage_dir: Path, cwd: str,
                   owner: Owner | None = None) -> str:
    """`--storage NAME` is `<paths.storage_dir>/NAME`; `--storage /path` (or `./path`)
    is that directory. Created if missing (given to `owner`, the workspace owner, so the
    code user can write to it); mounted at /storage."""
    if os.path.isabs(value) or value.startswith(("./", "../", "~")):
        source = os.path.normpath(os.path.join(cwd, os.path.expanduser(value)))
    else:
        if not value or ".." in value.split("/"):
            raise UsageError(f"invalid --storage name {value!r}")
        source = str(storage_dir / value)
    make_dirs(Path(source), owner)
    return source


def extra_mounts(specs: Iterable[Spec], storage: str | None, *, home: Path, coi_home: Path,
                 workspace: str, protected: Iterable[str],
                 storage_dir: Path) -> dict[str, dict[str, str]]:
    """The disk devices for the extra mounts and the storage, after the safety rules."""
    given = list(specs)
    if storage is not None:
        given.append((storage, STORAGE_TARGET, False))
    checked = rules.validate(given, home=home, coi_home=coi_home, workspace=Path(workspace),
                             protected=protected, exempt=storage_dir)
    devices = rules.devices(checked[:len(checked) - (storage is not None)])
    if storage is not None:
        devices["storage"] = checked[-1].device()
    return devices
