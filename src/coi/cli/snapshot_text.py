"""Text output of `coi snapshot`."""

from __future__ import annotations

from coi.cli import render
from coi.ops.snapshots import SnapshotView
from coi.units import human_size


def ws_text(view: SnapshotView) -> str:
    ws = view.workspace
    if ws is None:
        return ""
    shared = f", {ws.reflinked} reflinked" if ws.reflinked else ""
    return f" with workspace {ws.workspace} ({ws.files} files, {human_size(ws.bytes)}{shared})"


def table(container: str, views: list[SnapshotView]) -> str:
    if not views:
        return f"No snapshots of {container}."
    rows = [(v.name, v.created_at[:19].replace("T", " "), "yes" if v.stateful else "no",
             _ws_cell(v)) for v in views]
    return f"Snapshots of {container}:\n" + render.table(
        ("NAME", "CREATED", "STATEFUL", "WORKSPACE"), rows)


def _ws_cell(view: SnapshotView) -> str:
    ws = view.workspace
    cell = "-" if ws is None else f"{ws.files} files, {human_size(ws.bytes)}"
    return cell if view.container_snapshot else f"{cell} (container part missing)"


def info_rows(container: str, view: SnapshotView) -> list[tuple[str, str]]:
    ws = view.workspace
    return [("Name", view.name), ("Container", container), ("Created", view.created_at),
            ("Stateful", "yes" if view.stateful else "no"),
            ("In Incus", "yes" if view.container_snapshot else "no (workspace part only)"),
            ("Workspace", "-" if ws is None else f"{ws.workspace} ({ws.files} files, "
                                                 f"{human_size(ws.bytes)})")]
