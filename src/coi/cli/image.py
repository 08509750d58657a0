"""`coi image`: list, inspect, publish, delete and clean up images.

JSON shapes (`--json`): `list` and `info` are documented in `coi.images.catalog`,
`cleanup` in `coi.images.cleanup`; `publish` prints `{"fingerprint", "alias"}` and
`delete` prints `{"fingerprint", "aliases"}`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.units import human_size

if TYPE_CHECKING:
    from coi.images.catalog import Info, Listing
    from coi.images.cleanup import Cleanup
    from coi.incus.client import Client
    from coi.incus.images import Image

LIST_JSON_HELP = """\b
JSON (--json): a list of {"aliases": [...], "fingerprint": "<sha256>",
"size_bytes": N, "created_at": "<RFC 3339>", "description": "...",
"properties": {...}}."""
INFO_JSON_HELP = """\b
JSON (--json): the `list` object plus "architecture", "uploaded_at", "type",
"public", "prefix" (its version family, or null) and "versions":
[{"alias", "fingerprint", "created_at", "current"}], newest first."""
CLEANUP_JSON_HELP = """\b
JSON (--json): {"prefix", "dry_run", "kept": [alias, ...],
"deleted": [{"fingerprint", "aliases"}],
"spared": [{"alias", "fingerprint", "held_by": [alias, ...]}]}."""


@click.group()
def image() -> None:
    """List, inspect, publish, delete and clean up images."""


@contextlib.contextmanager
def _connection() -> Iterator[tuple[Client, str]]:
    """A client for the configured remote and project, and the default image alias."""
    from coi.config import load_config
    from coi.incus.remotes import connect

    loaded = load_config()
    settings = loaded.config.incus
    origin = loaded.origin("incus.project")
    project = None if origin is None or origin.kind == "default" else settings.project
    with connect(settings.remote or None, project) as client:
        yield client, loaded.config.defaults.image


@image.command("list", short_help="List coi images (--all: every image).",
               epilog=LIST_JSON_HELP)
@click.option("-a", "--all", "everything", is_flag=True, help="List every local image.")
@click.option("--prefix", metavar="P", help="Only images with an alias starting with P.")
@render.json_option
def list_command(everything: bool, prefix: str | None, as_json: bool) -> None:
    """List coi's images (aliases `coi`, `coi-*` and the configured default image)."""
    from coi.images import catalog

    with _connection() as (client, default):
        data = catalog.listing(client, prefix=prefix, everything=everything, default=default)
    render.emit(catalog.image_records(data.images), as_json,
                lambda _: _listing_text(data, prefix, everything))


@image.command(short_help="Exit 0 if an image exists, 1 if not.")
@click.argument("name")
@click.pass_context
def exists(ctx: click.Context, name: str) -> None:
    """Exit 0 if image NAME (alias or fingerprint) exists, 1 if not. Prints nothing."""
    from coi.images import catalog

    with _connection() as (client, _):
        found = catalog.exists(client, name)
    ctx.exit(0 if found else 1)


@image.command(short_help="Delete an image (alias or fingerprint).")
@click.argument("name")
@click.option("-f", "--force", is_flag=True,
              help="Delete it even if sessions start from it (alias `coi` or defaults.image).")
@render.json_option
def delete(name: str, force: bool, as_json: bool) -> None:
    """Delete image NAME (an alias or fingerprint), with all of its aliases."""
    from coi.images import catalog

    with _connection() as (client, default):
        gone = catalog.delete(client, name, protected=catalog.protected_aliases(default),
                              force=force)
    data = {"fingerprint": gone.fingerprint, "aliases": sorted(gone.aliases)}
    render.emit(data, as_json, lambda _: f"Deleted image {gone.fingerprint[:12]} "
                                         f"({_alias_label(gone)})")


@image.command(short_help="Publish a container as an image.")
@click.argument("container")
@click.argument("alias")
@click.option("--description", default="", help="Image description.")
@click.option("--compression", metavar="ALGO",
              help="none, gzip, bzip2, xz, zstd, … (default: the daemon's setting). "
                   "`none` is fastest for images that stay on this host.")
@click.option("-f", "--force", is_flag=True, help="Move ALIAS if it exists already.")
@render.json_option
def publish(*, container: str, alias: str, description: str, compression: str | None,
            force: bool, as_json: bool) -> None:
    """Publish CONTAINER as an image named ALIAS.

    A running container is stopped first (cleanly, killed after 30 s) and stays stopped.
    Prints {"fingerprint", "alias"} with --json.
    """
    from coi.images.publish import PublishRequest, publish

    if render.is_tty(sys.stderr):
        render.line(f"Publishing {container} as {alias}…", err=True)
    request = PublishRequest(container, alias, description, compression, force)
    with _connection() as (client, _):
        done = publish(client, request)
    stopped = f" ({container} was stopped for this and stays stopped)" if done.stopped else ""
    render.emit({"fingerprint": done.fingerprint, "alias": done.alias}, as_json,
                lambda _: f"Published {container} as {alias} ({done.fingerprint[:12]}){stopped}")


@image.command(short_help="Delete old versions, keeping the N newest.",
               epilog=CLEANUP_JSON_HELP)
@click.argument("prefix")
@click.option("--keep", type=click.IntRange(min=1), required=True,
              help="How many of the newest versions to keep (at least 1).")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@render.json_option
def cleanup(prefix: str, keep: int, dry_run: bool, as_json: bool) -> None:
    """Delete old PREFIX-YYYYMMDD-HHMMSS versions, keeping the --keep newest.

    An image that another alias still points at (such as PREFIX itself, `coi` or the
    configured default) is never deleted.
    """
    from coi.images import catalog
    from coi.images.cleanup import clean_up

    with _connection() as (client, default):
        result = clean_up(client, prefix, keep, protected=catalog.protected_aliases(default),
                          dry_run=dry_run)
    render.emit(result.to_json(), as_json, lambda _: _cleanup_text(result))


@image.command(short_help="Show an image and its other versions.", epilog=INFO_JSON_HELP)
@click.argument("name")
@render.json_option
def info(name: str, as_json: bool) -> None:
    """Show image NAME: aliases, fingerprint, size, properties and its other versions."""
    from coi.images import catalog

    with _connection() as (client, _):
        data = catalog.info(client, name)
    render.emit(catalog.info_record(data), as_json, lambda _: _info_text(data))


# -- text -------------------------------------------------------------------------------


def _when(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp or "-"
    return "-" if moment.year <= 1 else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _alias_label(image: Image) -> str:
    """`coi → coi-20250101-120000, other`: which version each plain alias points at."""
    from coi.images.catalog import version_of, version_prefix

    names = sorted(image.aliases)
    pairs = {a: v for a in names if version_prefix(a) is None and (v := version_of(a, image))}
    rest = [a for a in names if a not in pairs and a not in pairs.values()]
    return ", ".join([f"{a} → {v}" for a, v in pairs.items()] + rest) or "(no alias)"


def _table(images: list[Image]) -> str:
    rows = [(_alias_label(i), i.fingerprint[:12], human_size(i.size), _when(i.created_at),
             i.description) for i in images]
    text = render.table(("ALIASES", "FINGERPRINT", "SIZE", "CREATED", "DESCRIPTION"), rows)
    return "\n".join(f"  {row}" for row in text.splitlines())


def _default_line(data: Listing) -> str:
    found = data.default_image
    if found is None:
        return f"  ✗ {data.default} (not built; `coi build` builds it)"
    return f"  ✓ {_alias_label(found)} ({found.fingerprint[:12]}, {human_size(found.size)})"


def _listing_text(data: Listing, prefix: str | None, everything: bool) -> str:
    if prefix:
        if not data.images:
            return f"No images with an alias starting with {prefix!r}."
        return f"Images with prefix {prefix!r}:\n{_table(data.images)}"
    lines = ["COI Images:", _default_line(data), ""]
    if everything:
        lines.append("All Local Images:")
    lines.append(_table(data.images) if data.images else "  (none)")
    if not everything:
        lines += ["", "Tip: `coi image list --all` lists every local image."]
    return "\n".join(lines)


def _cleanup_text(result: Cleanup) -> str:
    if not (result.deleted or result.kept or result.spared):
        return f"No {result.prefix}-YYYYMMDD-HHMMSS versions found; nothing to clean up."
    verb = "Would delete" if result.dry_run else "Deleted"
    lines = [f"{verb} {len(result.deleted)} old version(s) of {result.prefix}:"
             if result.deleted else f"No old versions of {result.prefix} to delete."]
    lines += [f"  - {', '.join(d.aliases)} ({d.fingerprint[:12]})" for d in result.deleted]
    lines.append(f"Kept the {len(result.kept)} newest version(s):")
    lines += [f"  - {alias}" for alias in result.kept]
    if result.spared:
        lines.append(f"Spared {len(result.spared)} old version(s) still in use:")
        lines += [f"  - {s.alias} ({s.fingerprint[:12]}): in use by {', '.join(s.held_by)}"
                  for s in result.spared]
    return "\n".join(lines)


def _info_text(data: Info) -> str:
    image = data.image
    fields = [("Aliases", _alias_label(image)), ("Fingerprint", image.fingerprint),
              ("Size", human_size(image.size)), ("Architecture", image.architecture),
              ("Type", image.type), ("Created", _when(image.created_at)),
              ("Uploaded", _when(image.uploaded_at)), ("Description", image.description)]
    lines = [f"{key + ':':14}{value}" for key, value in fields]
    lines.append("Properties:" + ("" if image.properties else " (none)"))
    lines += [f"  {key}: {value}" for key, value in sorted(image.properties.items())]
    if data.prefix is not None:
        mark = " (* this image)" if data.versions else " (none)"
        lines.append(f"Versions of {data.prefix}:{mark}")
        lines += [f"  {'*' if v.image.fingerprint == image.fingerprint else ' '} {v.alias}  "
                  f"{v.image.fingerprint[:12]}  {_when(v.image.created_at)}"
                  for v in data.versions]
    return "\n".join(lines)
