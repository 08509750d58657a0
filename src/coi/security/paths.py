"""Which workspace paths to protect or mask, decided from config alone (no host changes).

A protected path is made read-only inside the container; each of its ancestors inside the
workspace becomes an "anchor" (a mount point), so it can be neither renamed nor deleted —
that is what stops `mv .git .git2 && mkdir -p .git/hooks`. `protect.py` applies the plan.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coi.config.model import Config
from coi.errors import PolicyError

Kind = Literal["dir", "file"]

# Git follows `.git/commondir` to another directory's config and hooks (measured:
# core.fsmonitor there runs on the host's next `git status`). "." is what git would
# assume anyway, so this placeholder changes nothing for git (measured: status, commit,
# worktree add, gc).
COMMONDIR = ".git/commondir"
COMMONDIR_TEXT = b".\n"
KNOWN_DIRS = frozenset({"hooks", ".git", ".husky", ".vscode", ".idea", ".github",
                        ".devcontainer", ".claude", ".codex", ".coi"})
KNOWN_FILES = frozenset({"config", "commondir", "config.worktree"})
MAX_SECRET_MATCHES = 200
SKIP_DIRS = frozenset({".git"})


@dataclass(frozen=True)
class Target:
    """One path to make read-only (`mask`: hide behind an empty stand-in instead)."""

    rel: str
    kind: Kind
    exists: bool
    mask: bool = False

    @property
    def placeholder(self) -> bytes:
        """What an absent protected file is created with (valid JSON/TOML/commondir)."""
        if self.rel == COMMONDIR:
            return COMMONDIR_TEXT
        return b"{}\n" if self.rel.endswith(".json") else b""


def protection_enabled(config: Config, writable_git_hooks: bool = False) -> bool:
    """All three opt-outs switch off every protected path, as in the original."""
    return not (writable_git_hooks or config.security.disable_protection
                or config.git.writable_hooks)


def configured_paths(config: Config) -> list[str]:
    """`protected_paths` (or the defaults) + `additional_protected_paths`, normalised."""
    sec = config.security
    paths = [*sec.protected_paths, *sec.additional_protected_paths]
    if ".git/config" in (p.rstrip("/") for p in paths):
        paths.append(COMMONDIR)
    seen: dict[str, None] = {}
    for raw in paths:
        seen.setdefault(normalise(raw), None)
    return list(seen)


def normalise(raw: str) -> str:
    """`a//b/./c/` -> `a/b/c/` (a trailing slash, meaning "a directory", is kept)."""
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or raw.startswith(("/", "~")):
        raise PolicyError(f"protected path {raw!r} must be relative to the workspace",
                          hint="use a path like .git/hooks, without '..' or a leading '/'")
    return "/".join(parts) + ("/" if raw.endswith("/") else "")


def guess_kind(rel: str) -> Kind:
    """For a path that does not exist yet: `x/` and known dirs are directories; a name
    with an extension (`settings.json`, `.coi.toml`) or a plain name (`Makefile`) a file;
    a dot-name without extension (`.husky`, `.idea`) a directory."""
    name = rel.rstrip("/").rsplit("/", 1)[-1]
    if rel.endswith("/") or name in KNOWN_DIRS:
        return "dir"
    if name in KNOWN_FILES or "." in name.lstrip("."):
        return "file"
    return "dir" if name.startswith(".") else "file"


def inspect(workspace: Path, rel: str, mask: bool = False) -> Target:
    """Look at `rel` under `workspace` without following any symlink on the way."""
    clean = rel.rstrip("/")
    current = workspace
    parts = clean.split("/")
    for index, part in enumerate(parts):
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return Target(clean, guess_kind(rel), False, mask)
        if stat.S_ISLNK(info.st_mode):
            shown = "/".join(parts[: index + 1])
            raise PolicyError(
                f"{shown} in the workspace is a symlink (to {os.readlink(current)}); coi "
                "does not follow symlinks when it protects or masks paths",
                hint=f"replace it with a real {'directory' if index < len(parts) - 1 else 'path'},"
                     f" or drop {clean} from [security] protected_paths")
        if index < len(parts) - 1 and not stat.S_ISDIR(info.st_mode):
            # e.g. `.git` is a `gitdir:` file: protect that file, it names the real gitdir
            return Target("/".join(parts[: index + 1]), "file", True, mask)
    kind: Kind = "dir" if stat.S_ISDIR(info.st_mode) else "file"
    return Target(clean, kind, True, mask)


def plan_targets(workspace: Path, rels: Iterable[str]) -> list[Target]:
    """Targets for the protected paths, deduplicated, parents before children."""
    found = {t.rel: t for t in (inspect(workspace, rel) for rel in rels)}
    return [found[rel] for rel in sorted(found, key=lambda r: (r.count("/"), r))]


def secret_targets(workspace: Path, patterns: Sequence[str]) -> list[Target]:
    """Existing workspace files and dirs matching `secret_paths` (a pattern without '/'
    matches a name at any depth, one with '/' the path from the workspace root)."""
    if not patterns:
        return []
    matches: list[Target] = []
    for top, dirs, files in os.walk(workspace):  # os.walk does not follow symlinked dirs
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        base = Path(top).relative_to(workspace)
        for name in [*dirs, *sorted(files)]:
            rel = (base / name).as_posix()
            if _matches(rel, name, patterns):
                matches.append(inspect(workspace, rel, mask=True))
        dirs[:] = [d for d in dirs if not _matches((base / d).as_posix(), d, patterns)]
        if len(matches) > MAX_SECRET_MATCHES:
            raise PolicyError(f"[security] secret_paths matches more than "
                              f"{MAX_SECRET_MATCHES} paths in {workspace}",
                              hint="use narrower patterns")
    return matches


def _matches(rel: str, name: str, patterns: Sequence[str]) -> bool:
    for raw in patterns:
        pattern = raw.rstrip("/")
        subject = rel if "/" in pattern else name
        if fnmatch.fnmatchcase(subject, pattern):
            return True
    return False


def anchors(targets: Iterable[Target]) -> list[str]:
    """Every ancestor directory (inside the workspace) of every target, parents first."""
    found: set[str] = set()
    for target in targets:
        parts = target.rel.split("/")
        found.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return sorted(found, key=lambda r: (r.count("/"), r))
