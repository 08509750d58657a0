"""`coi unfreeze [NAME]`: resume a container the security monitor paused (froze).

Unfreezing removes the container's `user.coi.monitor` marker and appends an audit event
(detector "user", severity info, action "unfrozen") to `~/.coi/audit/<container>.jsonl`.
A container that is not frozen is left alone (exit 0, said so); a stale "paused" marker
on it is removed, a "killed" one kept (it is history, `coi list` shows it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from coi.cli import render
from coi.cli.monitor import complete_containers
from coi.errors import CoiError

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.state import Owner

EPILOG = """\b
Exit status: 0 unfrozen, or nothing to do (not frozen, or no frozen session containers);
5 no container NAME; 4 Incus refused; 1 some of several failed.
\b
JSON (--json): {"results": [{"container", "status_before", "unfrozen", "marker",
  "marker_removed", "error"}]}  ("marker": what the monitor recorded, or null)
\b
Before unfreezing, see why it was paused: coi monitor audit NAME"""


@dataclass(frozen=True)
class Unfrozen:
    container: str
    status_before: str
    unfrozen: bool
    marker: dict[str, Any] | None
    marker_removed: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"container": self.container, "status_before": self.status_before,
                "unfrozen": self.unfrozen, "marker": self.marker,
                "marker_removed": self.marker_removed, "error": self.error}


@click.command(epilog=EPILOG)
@click.argument("name", required=False, shell_complete=complete_containers)
@render.json_option
def unfreeze(name: str | None, as_json: bool) -> None:
    """Resume a container the security monitor paused (froze) after a HIGH finding.

    With NAME, that container; without, every frozen session container. The monitor
    keeps watching it afterwards and pauses it again on a new finding.
    """
    from coi.cli.lifecycle_env import connect, local
    from coi.ops.target import require
    from coi.session.listing import KEY_MONITOR, list_session_containers, parse_monitor

    env = local()
    with connect(env.loaded) as client:
        if name is not None:
            instance = require(client, name)
            targets = [(instance.name, instance.status,
                        parse_monitor(instance.config.get(KEY_MONITOR)))]
        else:
            targets = [(c.name, c.status, c.monitor) for c in
                       list_session_containers(client, env.prefix) if c.status == "Frozen"]
        results = [unfreeze_one(client, target, status, marker, coi_home=env.coi_home,
                                owner=env.store.owner, single=name is not None)
                   for target, status, marker in targets]
    render.emit({"results": [r.to_json() for r in results]}, as_json,
                lambda _: text(results, everything=name is None))
    failed = [r for r in results if r.error]
    if failed and name is None:
        raise CoiError(f"{len(failed)} of {len(results)} container(s) could not be unfrozen")


def unfreeze_one(client: Client, name: str, status: str, marker: dict[str, Any] | None, *,
                 coi_home: Path, owner: Owner | None, single: bool = True) -> Unfrozen:
    """Unfreeze `name` if frozen, drop its monitor marker, audit it. With `single`, an
    Incus error is raised; otherwise it is returned in the result."""
    from coi.errors import IncusError
    from coi.incus import instances
    from coi.session.listing import KEY_MONITOR as KEY

    try:
        if status != "Frozen":
            stale = marker is not None and marker.get("state") != "killed"
            if stale:
                instances.update_config(client, name, {KEY: None})
            return Unfrozen(name, status, False, marker, stale)
        instances.unfreeze(client, name)
        if marker is not None:
            instances.update_config(client, name, {KEY: None})
    except IncusError as exc:
        if single:
            raise
        return Unfrozen(name, status, False, marker, False, exc.message)
    audit_unfrozen(coi_home, name, marker, owner)
    return Unfrozen(name, status, True, marker, marker is not None)


def audit_unfrozen(coi_home: Path, name: str, marker: dict[str, Any] | None,
                   owner: Owner | None) -> None:
    """Append the "unfrozen" event; under sudo a new log goes to the invoking user."""
    from coi.monitor.audit import AuditLog, audit_path, ensure_dir
    from coi.state import make_dirs

    path = audit_path(coi_home, name)
    make_dirs(path.parent, owner, mode=0o700)
    ensure_dir(path.parent)
    existed = path.exists()
    evidence: dict[str, Any] = {"by_uid": os.getuid(), "paused_for": marker}
    if os.environ.get("SUDO_USER"):
        evidence["sudo_user"] = os.environ["SUDO_USER"]
    AuditLog(path).append(user_event(name, evidence))
    if owner is not None and not existed:
        os.chown(path, *owner)


def user_event(name: str, evidence: dict[str, Any]) -> dict[str, Any]:
    import uuid
    from datetime import UTC, datetime

    return {"id": str(uuid.uuid4()), "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "container": name, "severity": "info", "detector": "user",
            "title": "Unfrozen by the user", "evidence": evidence, "action": "unfrozen"}


def text(results: list[Unfrozen], everything: bool) -> str:
    if not results:
        return "No frozen session containers." if everything else ""
    return "\n".join(_line(r) for r in results)


def _line(r: Unfrozen) -> str:
    why = ""
    if r.marker:
        title = r.marker.get("title") or r.marker.get("detector") or "a finding"
        why = f" (paused by the monitor: {title})"
    if r.error:
        return f"{r.container}: FAILED: {r.error}"
    if r.unfrozen:
        return (f"Unfrozen {r.container}{why}. The monitor keeps watching it; "
                f"audit: coi monitor audit {r.container}")
    state = r.status_before.lower() or "unknown"
    extra = "; removed the stale monitor marker" if r.marker_removed else ""
    if r.marker and r.marker.get("state") == "killed":
        extra = "; the monitor killed it, there is nothing to unfreeze"
    return f"{r.container} is not frozen ({state}): nothing to do{extra}."
