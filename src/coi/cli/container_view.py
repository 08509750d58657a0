"""`coi container list` and `coi container info`: what Incus knows, summarised."""

from __future__ import annotations

from typing import Any

import click

from coi.cli import render
from coi.cli.connection import incus_client

LIST_EPILOG = """\b
JSON (--json): a list of {"name", "status", "type", "ephemeral", "ipv4": [...],
"image", "image_fingerprint", "created"}."""

INFO_EPILOG = """\b
JSON (--json): the `list` fields plus "profiles", "ipv6", "pid", "processes",
"memory_bytes", "config" (without volatile.* keys), "devices" and "snapshots"."""


@click.command("list", epilog=LIST_EPILOG)
@render.json_option
def list_command(as_json: bool) -> None:
    """List every container of the project (not only coi's)."""
    from coi.ops import inventory

    with incus_client() as client:
        rows = inventory.listing(client)
    render.emit(rows, as_json, _table)


@click.command(epilog=INFO_EPILOG)
@click.argument("name")
@render.json_option
def info(name: str, as_json: bool) -> None:
    """Show container NAME: state, image, addresses, config, devices, snapshots."""
    from coi.ops import inventory

    with incus_client() as client:
        data = inventory.info(client, name)
    render.emit(data, as_json, _details)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No containers."
    return render.table(
        ("NAME", "STATUS", "TYPE", "IPV4", "IMAGE", "CREATED"),
        [(r["name"], r["status"], r["type"] + (" (ephemeral)" if r["ephemeral"] else ""),
          ", ".join(r["ipv4"]) or "-", r["image"] or r["image_fingerprint"][:12] or "-",
          _when(r["created"])) for r in rows])


def _when(stamp: str) -> str:
    """`2025-01-02 03:04:05` (UTC), or - for Go's zero time (a broken instance)."""
    return "-" if not stamp or stamp.startswith("0001-") else stamp[:19].replace("T", " ")


def _details(data: dict[str, Any]) -> str:
    lines = [f"{key + ':':12}{value}" for key, value in (
        ("Name", data["name"]), ("Status", data["status"]),
        ("Type", data["type"] + (" (ephemeral)" if data["ephemeral"] else "")),
        ("Image", data["image"] or "-"), ("Fingerprint", data["image_fingerprint"] or "-"),
        ("Created", data["created"]), ("Profiles", ", ".join(data["profiles"]) or "-"),
        ("IPv4", ", ".join(data["ipv4"]) or "-"), ("IPv6", ", ".join(data["ipv6"]) or "-"),
        ("PID", data["pid"] or "-"), ("Processes", data["processes"]),
        ("Memory", f"{data['memory_bytes'] / 2**20:.1f} MiB"),
    )]
    lines.append("Config:" + ("" if data["config"] else " (none)"))
    lines += [f"  {k}: {v}" for k, v in data["config"].items()]
    lines.append("Devices:" + ("" if data["devices"] else " (none)"))
    for dev, spec in sorted(data["devices"].items()):
        lines.append(f"  {dev}: " + ", ".join(f"{k}={v}" for k, v in sorted(spec.items())))
    lines.append("Snapshots: " + (", ".join(data["snapshots"]) or "(none)"))
    return "\n".join(lines)
