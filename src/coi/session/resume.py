"""Which saved session `--resume` means: only ever one of this workspace.

`--resume` (no value) is the newest session of this workspace and tool that has saved
state; `--resume=ID` is that session, refused when it belongs to another workspace
(sessions never cross projects: a conversation about one repository must not be
continued with another mounted).

A session the monitor paused or killed for a threat (`record.threat`) is not restored
until the user confirms it: the CLI asks on a terminal, or takes `--accept-flagged`, and
records the confirmation in the threat marker (`accepted_at`). Every resume path goes
through `select_resume`, which refuses an unconfirmed flagged session (PolicyError).
A later threat replaces the marker, and so needs a new confirmation.
"""

from __future__ import annotations

from datetime import datetime

from coi.errors import NotFound, PolicyError, UsageError
from coi.session.record import SessionRecord, now_iso
from coi.session.store import SessionStore

AUTO = "auto"
ACCEPT_FLAG = "--accept-flagged"


def find_resume(store: SessionStore, workspace: str, tool: str, resume: str,
                tool_given: bool = False) -> SessionRecord:
    """The session `--resume` names, whether or not the monitor flagged it."""
    if resume == AUTO:
        record = store.latest_for(workspace, tool)
        if record is None:
            raise NotFound("no previous session to resume for this workspace",
                           hint="start one with `coi shell`; `coi list --all` shows "
                                "saved sessions")
        return record
    record = store.find(resume)
    if record.workspace != workspace:
        raise UsageError(f"session {resume} belongs to another workspace ({record.workspace})",
                         hint=f"resume it from there: coi shell -w {record.workspace} "
                              f"--resume={resume}")
    if tool_given and record.tool != tool:
        raise UsageError(f"session {resume} is a {record.tool} session, not {tool}",
                         hint="leave out --tool to resume it with its own tool")
    if not record.has_state:
        raise NotFound(f"session {resume} has no saved state to resume",
                       hint="it ended before the tool saved anything")
    return record


def select_resume(store: SessionStore, workspace: str, tool: str, resume: str,
                  tool_given: bool = False) -> SessionRecord:
    """The session to resume. `tool_given`: the user named a tool explicitly, which a
    session of another tool then contradicts. PolicyError for a session the monitor
    flagged that the user has not confirmed."""
    record = find_resume(store, workspace, tool, resume, tool_given)
    if needs_confirmation(record):
        raise flagged_error(record)
    return record


def needs_confirmation(record: SessionRecord) -> bool:
    return bool(record.threat) and not (record.threat or {}).get("accepted_at")


def flagged_action(record: SessionRecord) -> str:
    """"killed" or "paused": what the monitor did to the session."""
    action = str((record.threat or {}).get("action") or "")
    if action in ("killed", "paused"):
        return action
    return "killed" if record.end_reason == "threat" else "paused"


def _when(text: object) -> str:
    try:
        return datetime.fromisoformat(str(text)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return str(text or "unknown time")


def flagged_summary(record: SessionRecord) -> str:
    """"Session X was killed by the monitor (Reverse shell detected, <time>)"."""
    threat = record.threat or {}
    title = str(threat.get("title") or threat.get("detector") or "threat")
    return (f"Session {record.session_id} was {flagged_action(record)} by the monitor "
            f"({title}, {_when(threat.get('time'))})")


def confirm_question(record: SessionRecord) -> str:
    return f"{flagged_summary(record)}. Restore its saved state anyway?"


def flagged_error(record: SessionRecord) -> PolicyError:
    return PolicyError(f"{flagged_summary(record)}; its saved state is not restored without "
                       "confirmation",
                       hint=f"check `coi monitor audit {record.container}`, then confirm "
                            f"with `coi shell --resume={record.session_id} {ACCEPT_FLAG}`")


def accept(store: SessionStore, record: SessionRecord) -> SessionRecord:
    """Record the user's confirmation in the threat marker (under the store lock, re-read
    so a marker the supervisor wrote meanwhile is not lost)."""
    with store.lock(record.tool, record.session_id):
        current = store.load(record.tool, record.session_id)
        if not current.threat:
            return current
        accepted = current.flagged({**current.threat, "accepted_at": now_iso()})
        store.write(accepted)
        return accepted
