"""The tool's credentials and settings: copied in at start, a login kept at save.

Only the files the tool adapter lists are copied, from the invoking user's home to the
container user's. JSON settings get the sandbox keys merged in (key by key, at any
depth); the user's other settings stay. A login made inside a container (the host had
none) is kept in `~/.coi/credentials/<tool>/` (0700), never among saved sessions, and
copied in again next time the host still has none.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coi.errors import NotFound
from coi.state import Owner, atomic_write_bytes, make_dirs
from coi.tools.base import ConfigFile, Tool

if TYPE_CHECKING:
    from coi.incus.client import Client


def merge_settings(user: Mapping[str, Any], sandbox: Mapping[str, Any]) -> dict[str, Any]:
    """`user` with `sandbox` merged in: tables merge key by key, sandbox values win."""
    merged = dict(user)
    for key, value in sandbox.items():
        mine = merged.get(key)
        if isinstance(value, Mapping) and isinstance(mine, Mapping):
            merged[key] = merge_settings(mine, value)
        else:
            merged[key] = value
    return merged


def merged_json(raw: bytes | None, sandbox: Mapping[str, Any]) -> bytes | None:
    """The file with sandbox keys merged in; None when it is not a JSON object (then it is
    copied as it is: coi does not rewrite a file it cannot read)."""
    base: Any = {}
    if raw is not None and raw.strip():
        try:
            base = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(base, dict):
        return None
    return (json.dumps(merge_settings(base, sandbox), indent=2) + "\n").encode()


@dataclass
class Injection:
    """What to copy in. `logged_in`: a login was found (on the host, or kept by coi);
    `from_kept`: it is the one coi kept from an earlier session."""

    files: list[tuple[ConfigFile, bytes]] = field(default_factory=list)
    logged_in: bool = False
    from_kept: bool = False
    unmerged: list[str] = field(default_factory=list)  # settings that were not JSON


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def host_logged_in(tool: Tool, host_home: Path) -> bool:
    return any((host_home / f.path).is_file() for f in tool.files if f.login)


def gather(tool: Tool, host_home: Path, kept: Path, *, bypass: bool,
           restored: Path | None = None) -> Injection:
    """The files to copy in. Sources, first found wins: the host home; for credentials,
    the kept login when the host has none; for settings inside the state dir, the state
    being restored (`restored`, on resume)."""
    use_kept = not host_logged_in(tool, host_home) and any(
        (kept / f.path).is_file() for f in tool.files if f.login)
    result = Injection(logged_in=use_kept or host_logged_in(tool, host_home),
                       from_kept=use_kept)
    for spec in tool.files:
        raw = _source(tool, spec, host_home, kept if use_kept else None, restored)
        if spec.sandbox is not None and bypass:
            merged = merged_json(raw, spec.sandbox)
            if merged is None:
                result.unmerged.append(spec.path)
            raw = merged if merged is not None else raw
        if raw is not None:
            result.files.append((spec, raw))
    return result


def _source(tool: Tool, spec: ConfigFile, host_home: Path, kept: Path | None,
            restored: Path | None) -> bytes | None:
    raw = _read(host_home / spec.path)
    if raw is None and spec.secret and kept is not None:
        raw = _read(kept / spec.path)
    if raw is None and restored is not None and tool.state_dir:
        prefix = tool.state_dir.rstrip("/") + "/"
        if spec.path.startswith(prefix) and not spec.secret:
            raw = _read(restored / spec.path[len(prefix):])
    return raw


def push(client: Client, container: str, injection: Injection, *, home: str,
         uid: int) -> None:
    """Write the files into the container's `home`, owned by the code user."""
    from coi.incus import files

    made: set[str] = set()
    for spec, data in injection.files:
        path = posixpath.join(home, spec.path)
        parent = posixpath.dirname(path)
        if parent != home and parent not in made:
            _mkdirs(client, container, home, parent, uid)
            made.add(parent)
        files.write_file(client, container, path, data, mode=spec.mode, uid=uid, gid=uid)


def _mkdirs(client: Client, container: str, home: str, directory: str, uid: int) -> None:
    from coi.incus import files

    relative = posixpath.relpath(directory, home).split("/")
    for depth in range(1, len(relative) + 1):
        step = posixpath.join(home, *relative[:depth])
        files.mkdir(client, container, step, mode=0o700, uid=uid, gid=uid)


def keep_login(client: Client, container: str, tool: Tool, *, host_home: Path, kept: Path,
               home: str, owner: Owner | None = None) -> bool:
    """Copy a login made inside the container to `kept` when the host has none.
    Returns whether one was kept. Works on running and stopped containers."""
    from coi.incus import files

    if not tool.secret_files or host_logged_in(tool, host_home):
        return False
    found: dict[str, bytes] = {}
    for spec in tool.secret_files:
        try:
            info, chunks = files.open_path(client, container, posixpath.join(home, spec.path))
        except NotFound:
            continue
        data = b"".join(chunks)
        if info.type == files.FILE:  # a link or directory there is no credential we copy
            found[spec.path] = data
    if not any(spec.login and spec.path in found for spec in tool.secret_files):
        return False
    for private in (kept.parent, kept):  # ~/.coi/credentials and its <tool> dir
        make_dirs(private, owner, mode=0o700)
        private.chmod(0o700)
    for relative, data in found.items():
        target = kept / relative
        make_dirs(target.parent, owner, mode=0o700)
        atomic_write_bytes(target, data, mode=0o600, owner=owner)
    return True
