"""What coi needs to know about an AI coding tool, and the shared shape of its commands.

An adapter is data plus a few argv builders. Paths are relative to the home directory,
which is the same layout on the host (the invoking user's home) and in the container
(`/home/code`): that is what makes "copy the user's credentials in" a plain mapping.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ConfigFile:
    """A file copied from the host user's home into the container's home.

    `secret`: a credential. Never saved with a session; a login made inside the container
    is kept in `~/.coi/credentials/<tool>/` instead. `login`: its presence means the user
    is logged in. `sandbox`: JSON keys merged into it (when permissions are bypassed), so
    the tool does not ask for confirmations the container makes pointless.
    """

    path: str
    secret: bool = False
    login: bool = False
    sandbox: Mapping[str, Any] | None = None
    mode: int = 0o600


@dataclass(frozen=True)
class Tool(ABC):
    """One AI coding tool. Subclasses say how to start, resume and run it headless."""

    name: str
    display: str
    binary: str
    state_dir: str | None  # relative to home; None: the tool keeps no session state
    files: tuple[ConfigFile, ...] = ()
    # Where a login lives on the host, for the "no credentials" message (e.g. ~/.claude).
    login_hint: str = ""
    # Hosts the tool must reach to work (its API and login), added to the allowlist in
    # allowlist mode. Telemetry is left out; model providers a user picks go in
    # `network.allowlist` (docs/network.md, "Tool API hosts").
    api_domains: tuple[str, ...] = ()

    # -- commands -----------------------------------------------------------------------

    def start_argv(self, binary: str, session_id: str, bypass: bool) -> list[str]:
        """A new interactive session (`session_id` is coi's; tools that can take it do)."""
        return [binary, *self.bypass_args(bypass)]

    @abstractmethod
    def resume_argv(self, binary: str, tool_session: str | None, bypass: bool) -> list[str]:
        """Continue an earlier conversation (`tool_session`: the tool's own ID, if known)."""

    @abstractmethod
    def headless_argv(self, binary: str, prompt: str, bypass: bool,
                      tool_session: str | None = None, resume: bool = False) -> list[str]:
        """Answer one prompt without a terminal and exit (`coi run --prompt`)."""

    def bypass_args(self, bypass: bool) -> list[str]:
        return []

    # -- state --------------------------------------------------------------------------

    def find_tool_session(self, state: Path) -> str | None:
        """The tool's own ID of the newest conversation in a saved state directory."""
        return None

    @property
    def secret_files(self) -> tuple[ConfigFile, ...]:
        return tuple(f for f in self.files if f.secret)

    def secrets_in_state(self) -> list[str]:
        """Secret files that live inside the state dir, relative to it: a save drops them."""
        if self.state_dir is None:
            return []
        prefix = self.state_dir.rstrip("/") + "/"
        return [f.path[len(prefix):] for f in self.secret_files if f.path.startswith(prefix)]


def newest(paths: Sequence[Path]) -> Path | None:
    """The most recently modified of `paths` (ties broken by name, for stable tests)."""
    existing = [p for p in paths if p.is_file() and not p.is_symlink()]
    if not existing:
        return None
    return max(existing, key=lambda p: (p.stat().st_mtime_ns, p.name))
