"""Text output of `coi clean`: the plan, then what was done."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coi.cli import render

if TYPE_CHECKING:
    from coi.session.sweep import CleanPlan, CleanReport


def plan_text(plan: CleanPlan) -> str:
    lines: list[str] = []
    if plan.containers:
        rows = [(d.container.name, f"{d.container.status}, {d.container.mode}",
                 f"{d.action}: {d.reason}") for d in plan.containers]
        lines += ["Session containers:", _indent(render.table(["NAME", "STATE", "PLAN"], rows))]
    if plan.sessions:
        rows = [(r.session_id, r.tool, r.workspace) for r in plan.sessions]
        lines += ["Saved sessions to delete:",
                  _indent(render.table(["SESSION", "TOOL", "WORKSPACE"], rows))]
    if plan.files:
        lines += ["Orphaned files:", *(f"  {f.path} ({f.kind})" for f in plan.files)]
    return "\n".join(lines)


def report_text(report: CleanReport) -> str:
    from coi.cli.lifecycle_env import outcome_text

    lines = [outcome_text(o) for o in report.outcomes]
    if report.sessions_deleted:
        lines.append(f"Deleted {len(report.sessions_deleted)} saved session(s).")
    if report.sessions_skipped:
        lines.append(f"Skipped {len(report.sessions_skipped)} saved session(s) in use: "
                     + ", ".join(report.sessions_skipped))
    if report.files_removed:
        lines.append(f"Removed {len(report.files_removed)} orphaned file(s).")
    return "\n".join(lines) or "Nothing was cleaned."


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
