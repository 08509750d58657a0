"""Workspace identity, container naming and slot choice.

A session's container is `<prefix><hash>-<slot>`: prefix from COI_CONTAINER_PREFIX
(default `coi-`), hash = the first 8 hex digits of the SHA-256 of the workspace's absolute
path, taken lexically (symlinks are not resolved, as in the Go original), slot 1-10.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from coi.errors import AlreadyExists, UsageError

DEFAULT_PREFIX = "coi-"
MAX_SLOTS = 10


def workspace_path(path: str | os.PathLike[str], cwd: str | None = None) -> str:
    """The workspace's identity: its absolute path, without resolving symlinks."""
    raw = os.fspath(path)
    if not os.path.isabs(raw):
        raw = os.path.join(cwd or os.getcwd(), raw)
    return os.path.normpath(raw)


def workspace_hash(workspace: str) -> str:
    return hashlib.sha256(workspace.encode()).hexdigest()[:8]


def container_prefix(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("COI_CONTAINER_PREFIX") or DEFAULT_PREFIX


def container_name(workspace: str, slot: int, prefix: str = DEFAULT_PREFIX) -> str:
    check_slot(slot)
    return f"{prefix}{workspace_hash(workspace)}-{slot}"


@dataclass(frozen=True)
class ParsedName:
    hash: str
    slot: int


def parse_container_name(name: str, prefix: str = DEFAULT_PREFIX) -> ParsedName | None:
    """The hash and slot of a session container name, or None for any other name."""
    match = re.fullmatch(re.escape(prefix) + r"([0-9a-f]{8})-(\d+)", name)
    if match is None:
        return None
    return ParsedName(match.group(1), int(match.group(2)))


def check_slot(slot: int) -> None:
    if not 1 <= slot <= MAX_SLOTS:
        raise UsageError(f"slot {slot} is out of range", hint=f"use 1 to {MAX_SLOTS}")


@dataclass(frozen=True)
class SlotChoice:
    """The slot a new session takes. `moved_from` is set when the asked-for one was busy."""

    slot: int
    moved_from: int | None = None


def choose_slot(existing: Mapping[int, bool], requested: int | None = None) -> SlotChoice:
    """Pick a slot given this workspace's containers (slot -> is running).

    Auto: the lowest slot with no container at all. `--slot N`: N unless a container there
    is running, else the next free slot above N (wrapping around), as the spec says.
    """
    if requested is None:
        for slot in range(1, MAX_SLOTS + 1):
            if slot not in existing:
                return SlotChoice(slot)
        raise AlreadyExists(f"all {MAX_SLOTS} slots of this workspace are in use",
                            hint="stop one with `coi shutdown NAME` or clean up with `coi clean`")
    check_slot(requested)
    if not existing.get(requested, False):
        return SlotChoice(requested)
    order = [*range(requested + 1, MAX_SLOTS + 1), *range(1, requested)]
    for slot in order:
        if slot not in existing:
            return SlotChoice(slot, moved_from=requested)
    raise AlreadyExists(f"slot {requested} is running and no other slot is free",
                        hint="stop a session with `coi shutdown NAME`")


def lock_path(coi_home: Path, workspace: str) -> Path:
    """The lock that serialises slot choice and container creation for one workspace."""
    return coi_home / "locks" / f"workspace-{workspace_hash(workspace)}.lock"
