"""Which saved session `--resume` means: only ever one of this workspace.

`--resume` (no value) is the newest session of this workspace and tool that has saved
state; `--resume=ID` is that session, refused when it belongs to another workspace
(sessions never cross projects: a conversation about one repository must not be
continued with another mounted).
"""

from __future__ import annotations

from coi.errors import NotFound, UsageError
from coi.session.record import SessionRecord
from coi.session.store import SessionStore

AUTO = "auto"


def select_resume(store: SessionStore, workspace: str, tool: str, resume: str,
                  tool_given: bool = False) -> SessionRecord:
    """The session to resume. `tool_given`: the user named a tool explicitly, which a
    session of another tool then contradicts."""
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
