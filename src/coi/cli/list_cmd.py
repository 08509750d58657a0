"""`coi list`: session containers, and with --all the saved sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from coi.cli import render
from coi.errors import UsageError

if TYPE_CHECKING:
    from coi.session.listing import SavedSession, SessionContainer

JSON_HELP = """\b
JSON (--json), documented in docs/lifecycle.md:
{"active_containers": [{"name", "status", "persistent", "ipv4": [...], "image",
  "workspace", "created_at", "slot", "pool", "session_id", "tool",
  "monitor_state", "monitor"}],
 "saved_sessions": [{"session_id", "tool", "workspace", "container", "slot",
  "persistent", "image", "created_at", "profile", "saved_at", "ended_at",
  "end_reason", "has_state", "threat", "path", "state_present", "monitor_state"}]}
"saved_sessions" is there only with --all. "monitor_state" is "paused-by-monitor",
"killed-by-monitor" or null; "monitor" / "threat" hold what the monitor recorded
(severity, detector, title, time). `coi unfreeze` resumes a paused container."""


@click.command("list", epilog=JSON_HELP)
@click.option("-a", "--all", "everything", is_flag=True, help="Also list saved sessions.")
@click.option("--running", is_flag=True, help="Only running (or frozen) containers.")
@click.option("--stopped", is_flag=True, help="Only stopped containers.")
@render.json_option
def list_command(everything: bool, running: bool, stopped: bool, as_json: bool) -> None:
    """List session containers (mode, state, IPv4, image, workspace) from one request,
    and with --all the saved sessions you can resume."""
    from coi.cli.lifecycle_env import connect, local
    from coi.session.listing import filter_status, list_session_containers, saved_sessions

    if running and stopped:
        raise UsageError("--running and --stopped exclude each other")
    status = "running" if running else "stopped" if stopped else None
    env = local()
    with connect(env.loaded) as client:
        containers = filter_status(list_session_containers(client, env.prefix), status)
    sessions = saved_sessions(env.store) if everything else None
    data: dict[str, Any] = {"active_containers": [c.to_json() for c in containers]}
    if sessions is not None:
        data["saved_sessions"] = [s.to_json() for s in sessions]
    render.emit(data, as_json, lambda _: text(containers, sessions, status))


def text(containers: list[SessionContainer], sessions: list[SavedSession] | None,
         status: str | None = None) -> str:
    heading = f"{status.capitalize()} Containers:" if status else "Active Containers:"
    lines = [heading, "-" * len(heading)]
    lines += [row for c in containers for row in _container(c)] or ["  (none)"]
    if sessions is not None:
        lines += ["", "Saved Sessions:", "-" * len("Saved Sessions:")]
        lines += [row for s in sessions for row in _session(s)] or ["  (none)"]
    return "\n".join(lines)


def _container(c: SessionContainer) -> list[str]:
    from coi.cli.lifecycle_env import when

    rows = [f"  {c.name} ({c.mode})", f"    Status: {c.status}"]
    if c.monitor_state:
        rows.append(f"    Monitor: {monitor_text(c.monitor_state, c.monitor)}")
        if c.monitor_state == "paused-by-monitor" and c.status == "Frozen":
            rows.append(f"    Resume with: coi unfreeze {c.name}")
    if c.ipv4:
        rows.append(f"    IPv4: {', '.join(c.ipv4)}")
    rows.append(f"    Created: {when(c.created_at)}")
    if c.image:
        rows.append(f"    Image: {c.image}")
    if c.workspace:
        rows.append(f"    Workspace: {c.workspace}")
    rows.append(f"    Slot: {c.slot}")
    if c.session_id:
        rows.append(f"    Session: {c.session_id} ({c.tool or 'unknown tool'})")
    return rows


def _session(s: SavedSession) -> list[str]:
    from coi.cli.lifecycle_env import when

    r = s.record
    rows = [f"  {r.session_id}", f"    Tool: {r.tool}",
            f"    Saved: {when(r.saved_at) if r.saved_at else 'never'}",
            f"    Workspace: {r.workspace}"]
    if r.ended_at:
        rows.append(f"    Ended: {when(r.ended_at)} ({r.end_reason or 'unknown'})")
    else:
        rows.append(f"    Ended: not yet (container {r.container})")
    rows.append(f"    State: {'saved' if s.state_present else 'none'}")
    from coi.session.listing import threat_state

    state = threat_state(r)
    if state:
        rows.append(f"    Monitor: {monitor_text(state, r.threat)}")
    return rows


def monitor_text(state: str, marker: dict[str, Any] | None) -> str:
    """"paused by monitor (HIGH: Environment scan, 2026-… UTC)"."""
    from coi.cli.lifecycle_env import when

    info = marker or {}
    what = state.replace("-", " ")
    severity = str(info.get("severity") or "").upper()
    title = str(info.get("title") or info.get("detector") or "")
    detail = ": ".join(p for p in (severity, title) if p)
    parts = [p for p in (detail, when(str(info["time"])) if info.get("time") else "") if p]
    if info.get("accepted_at"):
        parts.append("restore confirmed")
    return f"{what} ({', '.join(parts)})" if parts else what
