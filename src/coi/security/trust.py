"""The trust store: project config files the user approved, pinned by content.

`~/.coi/trust.json` maps a file's absolute path to the sha256 of the exact bytes the user
approved with `coi trust`. Any edit (by the agent or a `git pull`) un-trusts the file
until it is approved again.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from coi import state
from coi.errors import NotFound

SCHEMA = 1


def store_path(coi_home: Path) -> Path:
    return coi_home / "trust.json"


def digest(path: Path) -> str:
    """sha256 of the file's bytes, read without following a symlink at the end."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def load(coi_home: Path) -> dict[str, dict[str, str]]:
    try:
        record = state.read_record(store_path(coi_home), SCHEMA)
    except FileNotFoundError:
        return {}
    files = record.get("files", {})
    return {str(k): dict(v) for k, v in files.items()} if isinstance(files, dict) else {}


def is_trusted(coi_home: Path, path: Path) -> bool:
    entry = load(coi_home).get(str(Path(os.path.abspath(path))))
    try:
        return entry is not None and entry.get("sha256") == digest(path)
    except OSError:
        return False


def pin(coi_home: Path, path: Path, owner: state.Owner | None = None) -> str:
    """Trust the current content of `path`; returns its sha256."""
    key = str(Path(os.path.abspath(path)))
    sha = digest(path)
    with state.file_lock(coi_home / "locks" / "trust.lock", owner=owner):
        files = load(coi_home)
        files[key] = {"sha256": sha, "trusted_at": datetime.now(UTC).isoformat()}
        state.write_record(store_path(coi_home), {"files": files}, SCHEMA, owner=owner)
    return sha


def revoke(coi_home: Path, path: Path, owner: state.Owner | None = None) -> None:
    key = str(Path(os.path.abspath(path)))
    with state.file_lock(coi_home / "locks" / "trust.lock", owner=owner):
        files = load(coi_home)
        if key not in files:
            raise NotFound(f"{key} is not trusted", hint="`coi trust --list` shows them")
        del files[key]
        state.write_record(store_path(coi_home), {"files": files}, SCHEMA, owner=owner)
