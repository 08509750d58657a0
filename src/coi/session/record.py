"""What coi remembers about a session: `metadata.json` beside the saved tool state.

Layout under the invoking user's `~/.coi`:
    sessions-<tool>/<session-id>/metadata.json   this record (schema-versioned, atomic)
    sessions-<tool>/<session-id>/state/          the tool's state directory (e.g. ~/.claude)
Credential files are never stored there.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1

# Why a session ended; shown by `coi list --all` and `coi info`.
END_REASONS = ("exit", "detached-exit", "shutdown", "killed", "interrupted", "time-limit",
               "orphaned", "threat")


def new_session_id() -> str:
    return str(uuid.uuid4())


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SessionRecord:
    """One session of one tool in one workspace."""

    session_id: str
    tool: str
    workspace: str
    container: str
    slot: int
    persistent: bool
    image: str
    created_at: str
    profile: str | None = None
    saved_at: str | None = None      # last time the tool state was saved
    ended_at: str | None = None
    end_reason: str | None = None
    has_state: bool = False          # a saved tool state directory exists
    # Set by the monitor when it paused or killed the session for a threat: {"severity",
    # "detector", "title", "action", "time"}. `--resume` asks before restoring it.
    threat: dict[str, Any] | None = None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def saved(self) -> SessionRecord:
        return replace(self, saved_at=now_iso(), has_state=True)

    def flagged(self, threat: dict[str, Any]) -> SessionRecord:
        """The record marked as paused or killed by the monitor (see `threat`)."""
        return replace(self, threat=dict(threat))

    def finished(self, reason: str) -> SessionRecord:
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}")
        return replace(self, ended_at=now_iso(), end_reason=reason)
