"""Where a config value came from: a file, an environment variable, a profile or a flag.

Every leaf of the effective config carries one Origin, so `coi config show --origin` can
explain any value, and so later checks can tell values from the untrusted project file
(`./.coi.toml`, possibly written by the very agent coi contains) from the user's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

OriginKind = Literal["default", "system", "user", "project", "explicit", "env", "profile", "flag"]

# Kinds whose `name` is a file path. "explicit" is the file named by $COI_CONFIG.
FILE_KINDS: frozenset[str] = frozenset({"system", "user", "project", "explicit"})


class Origin(msgspec.Struct, frozen=True):
    """`name` is the file path, variable name or profile name, by kind.

    A profile value also records `via`: the file that defined that profile key, so a
    profile defined in the project file stays recognisably untrusted.
    """

    kind: OriginKind
    name: str = ""
    via: Origin | None = None

    @property
    def untrusted(self) -> bool:
        return self.kind == "project" or (self.via is not None and self.via.untrusted)

    def label(self, home: Path | None = None) -> str:
        if self.kind in FILE_KINDS:
            return display_path(self.name, home)
        if self.kind == "env":
            return f"env {self.name}"
        if self.kind == "profile":
            via = f" ({self.via.label(home)})" if self.via else ""
            return f"profile {self.name}{via}"
        return self.kind


DEFAULT_ORIGIN = Origin("default")
FLAG_ORIGIN = Origin("flag")


def display_path(path: str | Path, home: Path | None) -> str:
    """`path` with the home directory written as `~`, as users know their files."""
    text = str(path)
    if home is not None:
        root = str(home).rstrip("/")
        if root and (text == root or text.startswith(root + "/")):
            return "~" + text[len(root):]
    return text
