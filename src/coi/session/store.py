"""The saved-session store: records and tool state under `~/.coi/sessions-<tool>/`.

Writes are atomic and guarded by a per-session lock, so the supervisor's periodic save,
`coi shutdown` and `coi clean` can never interleave on one session. New state replaces
old only once it is complete, so a crash mid-save keeps the previous save.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coi.errors import NotFound, UsageError
from coi.session.record import SCHEMA_VERSION, SessionRecord
from coi.state import Owner, file_lock, fsync_dir, make_dirs, read_record, write_record

SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
METADATA = "metadata.json"
STATE = "state"


def check_session_id(session_id: str) -> None:
    """IDs become directory names: refuse anything that could escape the store."""
    if not SESSION_ID.fullmatch(session_id) or session_id in (".", ".."):
        raise UsageError(f"invalid session ID {session_id!r}",
                         hint="see `coi list --all` for session IDs")


class SessionStore:
    """Sessions saved under `root` (the invoking user's ~/.coi)."""

    def __init__(self, root: Path, owner: Owner | None = None) -> None:
        self.root = root
        self.owner = owner

    def tool_dir(self, tool: str) -> Path:
        return self.root / f"sessions-{tool}"

    def session_dir(self, tool: str, session_id: str) -> Path:
        check_session_id(session_id)
        return self.tool_dir(tool) / session_id

    def state_dir(self, tool: str, session_id: str) -> Path:
        return self.session_dir(tool, session_id) / STATE

    def lock_path(self, tool: str, session_id: str) -> Path:
        check_session_id(session_id)
        return self.root / "locks" / f"session-{tool}-{session_id}.lock"

    @contextlib.contextmanager
    def lock(self, tool: str, session_id: str, timeout: float = 120.0) -> Iterator[None]:
        with file_lock(self.lock_path(tool, session_id), timeout=timeout, owner=self.owner):
            yield

    def write(self, record: SessionRecord) -> None:
        directory = self.session_dir(record.tool, record.session_id)
        make_dirs(directory, self.owner, mode=0o700)
        write_record(directory / METADATA, record.to_json(), SCHEMA_VERSION, self.owner)

    def flag(self, tool: str, session_id: str, threat: dict[str, Any],
             timeout: float = 30.0) -> None:
        """Mark a session as paused or killed by the monitor (`SessionRecord.threat`),
        re-read under its lock so nothing another process wrote is lost."""
        with self.lock(tool, session_id, timeout=timeout):
            self.write(self.load(tool, session_id).flagged(threat))

    def load(self, tool: str, session_id: str) -> SessionRecord:
        path = self.session_dir(tool, session_id) / METADATA
        try:
            return SessionRecord.from_json(read_record(path, SCHEMA_VERSION))
        except FileNotFoundError:
            raise NotFound(f"session '{session_id}' not found",
                           hint="check available sessions with: coi list --all") from None

    def find(self, session_id: str, tool: str | None = None) -> SessionRecord:
        """A session by ID, in one tool's store or in any."""
        check_session_id(session_id)
        for tool_name in [tool] if tool else self.tools():
            if (self.session_dir(tool_name, session_id) / METADATA).exists():
                return self.load(tool_name, session_id)
        raise NotFound(f"session '{session_id}' not found",
                       hint="check available sessions with: coi list --all")

    def tools(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name.removeprefix("sessions-") for p in self.root.glob("sessions-*")
                      if p.is_dir())

    def all(self, tool: str | None = None) -> list[SessionRecord]:
        """Every readable saved session, newest first (by last save, else creation)."""
        records = []
        for tool_name in [tool] if tool else self.tools():
            for meta in self.tool_dir(tool_name).glob(f"*/{METADATA}"):
                with contextlib.suppress(Exception):  # one damaged record hides only itself
                    records.append(self.load(tool_name, meta.parent.name))
        return sorted(records, key=lambda r: r.saved_at or r.created_at, reverse=True)

    def latest_for(self, workspace: str, tool: str) -> SessionRecord | None:
        """The newest session of this workspace with saved state (never another's)."""
        for record in self.all(tool):
            if record.workspace == workspace and record.has_state:
                return record
        return None

    def replace_state(self, tool: str, session_id: str, new_state: Path) -> None:
        """Swap a completely written state directory in for the old one."""
        target = self.state_dir(tool, session_id)
        old = target.with_name(STATE + ".old")
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            os.rename(target, old)
        os.rename(new_state, target)
        fsync_dir(target.parent)
        if old.exists():
            shutil.rmtree(old)

    def staging_dir(self, tool: str, session_id: str) -> Path:
        """A fresh directory, beside the state, to pull new state into."""
        directory = self.session_dir(tool, session_id)
        make_dirs(directory, self.owner, mode=0o700)
        staging = directory / (STATE + ".new")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(mode=0o700)
        return staging

    def delete(self, tool: str, session_id: str) -> None:
        shutil.rmtree(self.session_dir(tool, session_id), ignore_errors=True)
