"""`coi health`: is this host ready to run coi sessions? Exit 0 / 1 / 2."""

from __future__ import annotations

import click

from coi.cli import render
from coi.host.health import Report

MARKS = {"ok": "ok", "warn": "warn", "fail": "FAIL"}


@click.command()
@render.json_option
@click.pass_context
def health(ctx: click.Context, as_json: bool) -> None:
    """Check this host: Incus, storage, network, images, permissions, limits.

    Exit status: 0 healthy, 1 degraded (works, but something is slow or missing),
    2 unhealthy (sessions will fail). Runs without reading coi's config.
    """
    from coi.host.health import run_health

    report = run_health()
    render.emit(report.to_json(), as_json, lambda _: human(report))
    ctx.exit(report.exit_code)


def human(report: Report) -> str:
    width = max(len(check.name) for check in report.checks)
    lines = [f"coi health: {report.status}"]
    for check in report.checks:
        mark = f"[{MARKS[check.status]}]".ljust(6)
        lines.append(f"  {mark} {check.name.ljust(width)}  {check.message}")
        if check.fix:
            lines.append(f"  {' ' * 6} {' ' * width}  fix: {check.fix}")
    return "\n".join(lines)
