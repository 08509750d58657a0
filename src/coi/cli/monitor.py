"""`coi monitor [NAME]`: a container's security snapshot; `coi monitor audit NAME`.

`monitor` is a group whose default (no subcommand) is the snapshot, so `coi monitor NAME
--watch 2` works as in the original; `audit` is the one subcommand. Everything is read
from the host (coi.monitor.view); nothing runs inside the container.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from coi.cli import render
from coi.errors import UsageError

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from coi.monitor.view import View

DEFAULT = "show"
SETTLE = 0.5  # one-shot mode samples twice this far apart, for a read rate

SNAPSHOT_HELP = """\b
NAME: a container (default: $COI_CONTAINER, else the one session container of this
workspace, -w PATH).
\b
Shows, read from the host (nothing runs inside the container):
  processes    host pid, pid in the container, user, command line
  connections  proto, local and remote address, state, owning pid
  I/O          MB read by the running processes (files, pipes, sockets), network
               receive, and the file read rate (MB/s, reads net of network receive)
  threats      the last audit events (`coi monitor audit NAME` shows all)
  monitor      watching (a supervisor holds the session), paused or killed by the
               monitor, or unwatched
Without root, what cannot be read (other users' descriptors and I/O counters) is named
instead. Exit status: 0; 5 no such container; 130 Ctrl-C in --watch mode.
\b
JSON (--json): {"container", "status", "time", "init_pid", "monitor": {"state",
  "supervised", "marker"}, "processes": [{"pid", "ns_pid", "ppid", "uid", "user",
  "command"}], "connections": [{"proto", "local", "remote", "state", "pid", "inode"}],
  "io": {"read_bytes", "read_mb", "net_rx_bytes", "disk_read_bytes", "rate_mb_s",
  "interval_s"}, "threats": [audit events], "missing": [what could not be read]}
With --watch and --json, one such object per line, every N seconds."""

AUDIT_HELP = """\b
Events are read from ~/.coi/audit/NAME.jsonl and its rotated files, oldest first.
--json prints them as JSON Lines (one event per line, as stored); --export FILE writes
them as one JSON array (atomically, mode 0600). Levels: info, warning, high, critical.
Exit status: 0; 2 unknown level; 5 no audit log and no container of that name."""


class DefaultGroup(click.Group):
    """A group that runs its DEFAULT command when the first argument is not one of its
    subcommands (`coi monitor NAME` is `coi monitor show NAME`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        completing = ctx.resilient_parsing and not args  # `coi monitor <TAB>`: see below
        if not completing and (not args or (args[0] not in self.commands
                                            and args[0] not in ("-h", "--help"))):
            args = [DEFAULT, *args]
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """`coi monitor <TAB>`: the subcommands and the session containers."""
        items = super().shell_complete(ctx, incomplete)
        if not incomplete.startswith("-"):
            items += complete_containers(ctx, None, incomplete)
        return items

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path,
                              "[NAME] [--watch N] [--json] | audit NAME [OPTIONS]")


def complete_containers(ctx: click.Context, param: click.Parameter | None,
                        incomplete: str) -> list[CompletionItem]:
    """Session container names for shell completion (none when the daemon is away)."""
    from click.shell_completion import CompletionItem

    from coi.errors import CoiError

    try:
        from coi.cli.lifecycle_env import connect, local
        from coi.session.listing import list_session_containers

        env = local()
        with connect(env.loaded) as client:
            names = [c.name for c in list_session_containers(client, env.prefix)]
    except (CoiError, OSError):
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_levels(ctx: click.Context, param: click.Parameter,
                    incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    from coi.monitor.findings import Severity

    done, _, last = incomplete.rpartition(",")
    prefix = f"{done}," if done else ""
    return [CompletionItem(prefix + s.label) for s in Severity if s.label.startswith(last)]


@click.group(cls=DefaultGroup, invoke_without_command=False)
def monitor() -> None:
    """Security monitoring: a container's live security snapshot, and its audit log.

    \b
    coi monitor [NAME] [--watch N] [--json]    processes, connections, I/O, threats
    coi monitor audit NAME [--level L,…] [--export FILE] [--json]
    """


@monitor.command(DEFAULT, hidden=True, epilog=SNAPSHOT_HELP)
@click.argument("name", required=False, shell_complete=complete_containers)
@click.option("--watch", type=click.FloatRange(min=0.2), metavar="N",
              help="Redraw every N seconds until Ctrl-C.")
@click.option("-w", "--workspace", default=".", metavar="PATH",
              help="Workspace whose container to show when NAME is not given.")
@click.option("--threats", "threat_count", type=click.IntRange(0, 1000), default=10,
              show_default=True, metavar="N", help="How many recent audit events to show.")
@render.json_option
def show(name: str | None, watch: float | None, workspace: str, threat_count: int,
         as_json: bool) -> None:
    """Show a container's processes, connections, I/O and recent threats, from the host."""
    from coi.cli.lifecycle_env import connect, local
    from coi.monitor.view import Monitor
    from coi.ops.target import require, resolve
    from coi.workspace import workspace_path

    env = local()
    with connect(env.loaded) as client:
        container = resolve(client, name, workspace_path(workspace), os.environ)
        require(client, container)
        mon = Monitor(client, container, env.coi_home, threats=threat_count)
        if watch is None:
            view = mon.view(settle=SETTLE)
            render.emit(view.to_json(), as_json, lambda _: text(view))
            return
        _watch(mon, watch, as_json)


def _watch(mon: Any, every: float, as_json: bool) -> None:
    """Redraw until Ctrl-C (KeyboardInterrupt: exit 130, as everywhere)."""
    import json

    clear = render.is_tty() and not as_json
    mon.view(settle=SETTLE if not as_json else 0.0)  # a first sample, for rates
    while True:
        time.sleep(every)
        view = mon.view()
        if as_json:
            click.echo(json.dumps(view.to_json(), default=str))
            continue
        out = text(view, footer=f"every {every:g}s · Ctrl-C to stop")
        click.echo(("\x1b[H\x1b[2J" if clear else "\n") + out)
        sys.stdout.flush()


# -- text ----------------------------------------------------------------------------------


def _mb(value: float | None) -> str:
    return "?" if value is None else f"{value / 1_000_000:,.1f} MB"


def text(view: View, footer: str = "") -> str:
    from coi.cli.lifecycle_env import when
    from coi.monitor.alerts import printable

    mon = view.monitor
    state = {"watching": "watching (supervised)",
             "unwatched": "NOT watched (no supervisor holds this container)",
             "paused": "PAUSED by the monitor", "killed": "KILLED by the monitor"}[mon.state]
    if mon.marker:
        title = mon.marker.get("title") or mon.marker.get("detector") or ""
        state += f": {printable(title)} ({when(str(mon.marker.get('time') or ''))})"
        if mon.state == "paused":
            state += f"; resume with `coi unfreeze {view.container}`"
    lines = [f"Security monitor: {view.container}  [{view.status}]  {when(view.time)}",
             f"Monitor: {state}", ""]
    lines.append(f"Processes ({len(view.processes)}):")
    rows = [(p.pid, p.ns_pid, printable(p.user, 20), printable(p.command, 100))
            for p in view.processes]
    lines += _indent(render.table(["PID", "NS PID", "USER", "COMMAND"], rows)
                     if rows else "(none)")
    lines += ["", f"Connections ({len(view.connections)}):"]
    crows = [(c.proto, c.local, c.remote, c.state, c.pid if c.pid is not None else "-")
             for c in view.connections]
    lines += _indent(render.table(["PROTO", "LOCAL", "REMOTE", "STATE", "PID"], crows)
                     if crows else "(none)")
    io = view.io
    rate = "?" if io.rate_bytes_s is None else f"{io.rate_bytes_s / 1_000_000:,.2f} MB/s"
    lines += ["", "I/O:",
              f"  read by running processes: {_mb(io.read_bytes)}   "
              f"file read rate: {rate}",
              f"  network received: {_mb(io.net_rx_bytes)}"
              + (f"   block devices read: {_mb(io.disk_read_bytes)}"
                 if io.disk_read_bytes is not None else "")]
    lines += ["", f"Recent threats ({len(view.threats)}):"]
    trows = [(when(str(e.get("time", ""))), str(e.get("severity", "?")).upper(),
              printable(e.get("detector", ""), 20), printable(e.get("title", ""), 60),
              printable(e.get("action", ""), 16)) for e in view.threats]
    lines += _indent(render.table(["TIME", "SEVERITY", "DETECTOR", "TITLE", "ACTION"], trows)
                     if trows else "(none)")
    if view.missing:
        lines += ["", "Not shown:"] + [f"  - {m}" for m in view.missing]
    if footer:
        lines += ["", footer]
    return "\n".join(lines)


def _indent(block: str) -> list[str]:
    return [f"  {line}" for line in block.splitlines()]


# -- audit ---------------------------------------------------------------------------------


def parse_levels(text: str | None) -> list[Any] | None:
    """`critical,high` → those severities; None for all. UsageError names the valid ones."""
    from coi.monitor.findings import Severity

    if text is None:
        return None
    levels = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            levels.append(Severity.parse(part))
        except ValueError:
            valid = ", ".join(s.label for s in Severity)
            raise UsageError(f"unknown level {part!r} for --level",
                             hint=f"valid levels: {valid}") from None
    if not levels:
        raise UsageError("--level needs at least one level",
                         hint="valid levels: " + ", ".join(s.label for s in Severity))
    return levels


@monitor.command(epilog=AUDIT_HELP)
@click.argument("name", required=False, shell_complete=complete_containers)
@click.option("--level", metavar="L[,L…]", shell_complete=complete_levels,
              help="Only these severities (comma-separated): info, warning, high, critical.")
@click.option("--export", "export_to", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Write the events to FILE as one JSON array.")
@click.option("-w", "--workspace", default=".", metavar="PATH",
              help="Workspace whose container to use when NAME is not given.")
@render.json_option
def audit(name: str | None, level: str | None, export_to: Path | None, workspace: str,
          as_json: bool) -> None:
    """Show a container's security audit log (the monitor's findings and actions).

    NAME is a container (also one that is gone: its log stays); default $COI_CONTAINER,
    else this workspace's session container.
    """
    import json

    from coi.cli.lifecycle_env import local
    from coi.monitor.audit import audit_dir, export

    levels = parse_levels(level)
    env = local()
    container = name or _resolve(env, workspace)
    events = _read_events(env.coi_home, container, levels, env)
    if export_to is not None:
        export(events, export_to)
        render.line(f"Exported {len(events)} event(s) of {container} to {export_to}",
                    err=as_json)
        if not as_json:
            return
    if as_json:
        for event in events:
            click.echo(json.dumps(event, ensure_ascii=False, default=str))
        return
    render.line(audit_text(container, events, audit_dir(env.coi_home)))


def _resolve(env: Any, workspace: str) -> str:
    from coi.cli.lifecycle_env import connect
    from coi.ops.target import resolve
    from coi.workspace import workspace_path

    with connect(env.loaded) as client:
        return resolve(client, None, workspace_path(workspace), os.environ)


def _read_events(coi_home: Path, container: str, levels: list[Any] | None,
                 env: Any) -> list[dict[str, Any]]:
    """The events; NotFound when there is no log and no such container either."""
    from coi.errors import NotFound
    from coi.monitor.audit import audit_dir
    from coi.monitor.rotation import log_files, read_all

    directory = audit_dir(coi_home)
    try:
        files = [p for p in log_files(directory, container) if p.exists()]
    except ValueError:
        files = []
    if files:
        return read_all(directory, container, levels)
    if _container_exists(env, container):
        return []
    known = sorted(p.name.removesuffix(".jsonl") for p in directory.glob("*.jsonl")
                   if "." not in p.name.removesuffix(".jsonl")) if directory.is_dir() else []
    hint = ("audit logs: " + ", ".join(known[:10])) if known else "no audit logs yet"
    raise NotFound(f"no audit log and no container named {container}", hint=hint)


def _container_exists(env: Any, container: str) -> bool:
    from coi.cli.lifecycle_env import connect
    from coi.errors import CoiError, NotFound
    from coi.incus.instances import get

    try:
        with connect(env.loaded) as client:
            get(client, container)
    except NotFound:
        return False
    except CoiError:
        return False
    return True


def audit_text(container: str, events: list[dict[str, Any]], directory: Path) -> str:
    from coi.cli.lifecycle_env import when
    from coi.monitor.alerts import describe, home_relative, printable

    if not events:
        return f"No security events for {container}."
    rows = []
    for event in events:
        rows.append((when(str(event.get("time", ""))), str(event.get("severity", "?")).upper(),
                     printable(event.get("detector", ""), 20),
                     printable(event.get("action", ""), 16),
                     printable(event.get("title", ""), 60)))
    lines = [f"Security audit log of {container} ({len(events)} event(s)):",
             render.table(["TIME", "SEVERITY", "DETECTOR", "ACTION", "TITLE"], rows)]
    detailed = [e for e in events if str(e.get("severity")) in ("high", "critical")]
    if detailed:
        lines += ["", "Details (high and critical):"]
        for event in detailed[-20:]:
            lines.append(f"  {when(str(event.get('time', '')))}  "
                         f"{printable(event.get('title', ''), 80)}: {describe(event)}")
    lines += ["", f"Log: {home_relative(directory / (container + '.jsonl'))}"
                  " (and rotated files beside it)"]
    return "\n".join(lines)
