"""`coi info`: one saved session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.errors import NotFound
from coi.units import human_size

if TYPE_CHECKING:
    from coi.session.listing import SavedSession

JSON_HELP = """\b
JSON (--json), documented in docs/lifecycle.md: the session record
{"session_id", "tool", "workspace", "container", "slot", "persistent", "image",
 "created_at", "profile", "saved_at", "ended_at", "end_reason", "has_state", "threat"}
("threat": what the security monitor paused or killed it for, or null) plus
"path", "state_present", "state_bytes" and "resume" (the command that resumes it)."""


@click.command(epilog=JSON_HELP)
@click.argument("session_id", required=False)
@click.option("-w", "--workspace", type=click.Path(file_okay=False, path_type=Path),
              help="Without SESSION_ID: the newest session of this workspace "
                   "(default: the current directory).")
@render.json_option
def info(session_id: str | None, workspace: Path | None, as_json: bool) -> None:
    """Show a saved session: tool, container, workspace, when it was saved and ended,
    whether its state is there (and its size), where it is, and how to resume it."""
    from coi.cli.lifecycle_env import local
    from coi.session.listing import newest_for_workspace, saved_session
    from coi.workspace import workspace_path

    env = local()
    if session_id:
        record = env.store.find(session_id)
    else:
        found = newest_for_workspace(env.store, workspace_path(workspace or "."))
        if found is None:
            raise NotFound("no sessions found for this workspace",
                           hint="see `coi list --all`")
        record = found
    saved = saved_session(env.store, record, measure=True)
    data = saved.to_json() | {"resume": resume_command(record.session_id,
                                                       bool(record.threat))}
    render.emit(data, as_json, lambda _: text(saved))


def resume_command(session_id: str, flagged: bool = False) -> str:
    return f"coi shell --resume={session_id}" + (" --accept-flagged" if flagged else "")


def text(saved: SavedSession) -> str:
    from coi.cli.lifecycle_env import when

    r = saved.record
    mode = "persistent" if r.persistent else "ephemeral"
    ended = f"{when(r.ended_at)} ({r.end_reason or 'unknown'})" if r.ended_at else "not yet"
    data = (f"✓ Present ({human_size(saved.state_bytes or 0)})" if saved.state_present
            else "✗ Missing")
    rows = [
        ("Session ID", r.session_id), ("Tool", r.tool),
        ("Container", f"{r.container} ({mode})"), ("Workspace", r.workspace),
        ("Created At", when(r.created_at)),
        ("Saved At", when(r.saved_at) if r.saved_at else "never"),
        ("Ended", ended), ("Session Data", data),
    ]
    if r.threat:
        t = r.threat
        rows.append(("Monitor", f"{t.get('action', t.get('state', 'flagged'))} for "
                                f"{t.get('title', t.get('detector', '?'))} "
                                f"({str(t.get('severity', '')).upper()}, "
                                f"{when(str(t['time'])) if t.get('time') else '?'}); "
                                "resuming asks first"))
    lines = ["Session Information", "===================", ""]
    lines += [f"{label + ':':<16}{value}" for label, value in rows]
    lines += ["", f"{'Session Path:':<16}{saved.path}", "",
              f"{'Resume:':<16}{resume_command(r.session_id, bool(r.threat))}"]
    return "\n".join(lines)
