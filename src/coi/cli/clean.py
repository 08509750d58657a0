"""`coi clean`: remove leftover and orphaned session containers (saving their sessions
first), and with flags saved sessions and orphaned files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from coi.cli import render

if TYPE_CHECKING:
    from pathlib import Path

    from coi.incus.client import Client
    from coi.session.sweep import CleanPlan, CleanReport

JSON_HELP = """\b
JSON (--json), documented in docs/lifecycle.md:
{"dry_run": bool,
 "plan": {"containers": [{"name", "status", "persistent", "session_id", "action",
   "reason"}], "sessions": [{"session_id", "tool", "workspace", "container"}],
   "files": [{"path", "kind"}]},
 "results": null | {"containers": [{"container", "action", "session_id", "saved",
   "error", "notes"}], "sessions_deleted": [...], "sessions_skipped": [...],
   "files_removed": [...]}}
Exit status 1 if a container could not be cleaned (its session data was not saved)."""


@click.command(epilog=JSON_HELP)
@click.option("-a", "--all", "everything", is_flag=True,
              help="Also persistent stopped containers, and orphaned files.")
@click.option("--sessions", is_flag=True,
              help="Also delete saved sessions (every workspace) whose container is gone.")
@click.option("--orphans", is_flag=True,
              help="Also orphaned files: stale locks and run state, crashed-save leftovers.")
@click.option("--dry-run", is_flag=True, help="Show what would be cleaned, change nothing.")
@click.option("-f", "--force", is_flag=True, help="Do not ask (needed without a terminal).")
@render.json_option
def clean(*, everything: bool, sessions: bool, orphans: bool, dry_run: bool, force: bool,
          as_json: bool) -> None:
    """Remove stopped ephemeral session containers, and running ones no coi process looks
    after any more (e.g. after `kill -9`); persistent stopped ones only with --all.

    Every session's data is saved first; a container whose save failed is kept and
    reported. Containers whose session is not in your ~/.coi are left alone (stopped
    ones are removed with --all). Asks [y/N] unless --force.
    """
    from coi.cli.lifecycle_env import connect, local
    from coi.session.listing import list_session_containers
    from coi.session.sweep import CleanOptions, execute, plan_clean

    env = local()
    options = CleanOptions(everything=everything, sessions=sessions, orphans=orphans)
    with connect(env.loaded) as client:
        backend = env.backend(client)
        containers = list_session_containers(client, env.prefix)
        plan = plan_clean(containers, env.store, backend.in_use, options)
        if dry_run or plan.empty:
            if not dry_run:
                _sweep(client, env.coi_home, as_json)
            _show(plan, None, dry_run, as_json)
            return
        if not _confirmed(plan, force):
            if as_json:
                _show(plan, None, False, as_json)
            return
        timeout = env.loaded.config.session.shutdown_timeout_sec
        report = execute(plan, backend, env.store, backend.in_use, timeout)
        _sweep(client, env.coi_home, as_json)
    _show(plan, report, False, as_json)
    if report.failures:
        from coi.errors import CoiError

        raise CoiError(f"{len(report.failures)} container(s) kept: session data not saved",
                       hint="see the lines above; `coi clean` tries again")


def _sweep(client: Client, coi_home: Path, as_json: bool) -> None:
    """Network rules and protected-path mounts of containers no longer running
    (coi.session.isolation.sweep); what it did goes to stderr."""
    from coi.session.isolation import sweep

    swept = sweep(client, coi_home)
    if as_json:
        return
    for name in swept.rules_removed:
        render.line(f"coi: removed the network rules of {name}", err=True)
    for name in swept.protections_released:
        render.line(f"coi: released the protected paths of {name}", err=True)
    for note in swept.notes:
        render.warn(note)


def _confirmed(plan: CleanPlan, force: bool) -> bool:
    from coi.cli.clean_text import plan_text
    from coi.cli.lifecycle_env import confirm

    if force:
        return True
    render.line(plan_text(plan), err=True)
    if confirm("Clean these up?", force):
        return True
    render.line("Cancelled.", err=True)
    return False


def _show(plan: CleanPlan, report: CleanReport | None, dry_run: bool, as_json: bool) -> None:
    data: dict[str, Any] = {"dry_run": dry_run, "plan": plan_json(plan),
                            "results": None if report is None else report_json(report)}
    render.emit(data, as_json, lambda _: _text(plan, report))


def plan_json(plan: CleanPlan) -> dict[str, Any]:
    return {
        "containers": [d.to_json() for d in plan.containers],
        "sessions": [{"session_id": r.session_id, "tool": r.tool, "workspace": r.workspace,
                      "container": r.container} for r in plan.sessions],
        "files": [f.to_json() for f in plan.files],
    }


def report_json(report: CleanReport) -> dict[str, Any]:
    return {"containers": [o.to_json() for o in report.outcomes],
            "sessions_deleted": report.sessions_deleted,
            "sessions_skipped": report.sessions_skipped,
            "files_removed": report.files_removed}


def _text(plan: CleanPlan, report: CleanReport | None) -> str:
    from coi.cli.clean_text import plan_text, report_text

    if plan.empty:
        kept = plan_text(plan) + "\n" if plan.containers else ""
        return kept + "Nothing to clean."
    if report is None:
        return plan_text(plan) + "\n(dry run: nothing changed)"
    return report_text(report)
