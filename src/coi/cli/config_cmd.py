"""`coi config`: show, get and set configuration values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from coi.cli import render
from coi.config import ConfigContext, LoadedConfig, load_config
from coi.config.dump import dump_toml, format_value
from coi.config.origin import Origin, display_path
from coi.config.sources import config_files
from coi.errors import CoiError

profile_option = click.option("--profile", metavar="NAME",
                              help="Apply the [profiles.NAME] overlay.")


@click.group()
def config() -> None:
    """Show, get and set configuration values.

    Layers, lowest precedence first: built-in defaults, /etc/coi/config.toml,
    ~/.config/coi/config.toml, ./.coi.toml, $COI_CONFIG, COI_* variables, --profile,
    command-line flags. See docs/configuration.md for every key.
    """


@config.command()
@click.option("--origin", is_flag=True, help="Show where each value came from.")
@profile_option
@render.json_option
def show(origin: bool, profile: str | None, as_json: bool) -> None:
    """Show the effective configuration (TOML, or JSON with --json)."""
    loaded = load_config(profile=profile)
    if as_json:
        data = loaded.to_dict()
        if origin:
            data = {"config": data, "origins": _origins_json(loaded)}
        render.line(render.to_json(data))
        return
    labels = {key: o.label(loaded.home) for key, o in loaded.origins.items()}
    render.line(dump_toml(loaded.to_dict(), labels if origin else None))


@config.command()
@click.argument("key")
@profile_option
@render.json_option
def get(key: str, profile: str | None, as_json: bool) -> None:
    """Print one value, e.g. network.mode (lists comma-separated)."""
    value = load_config(profile=profile).value(key)
    render.emit(value, as_json, lambda v: _value_text(key, v))


@config.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--project", is_flag=True,
              help="Edit ./.coi.toml instead of ~/.config/coi/config.toml.")
def set_command(key: str, value: str, project: bool) -> None:
    """Set KEY to VALUE in your config file, keeping its comments.

    VALUE is read as the key's type: true/false, a number, or a comma-separated list
    (`coi config set network.allowlist "a.com,b.org"`).
    """
    from coi.config.edit import set_value  # tomlkit is slow to import: only here

    ctx = ConfigContext.from_environ()
    change = set_value(ctx, key, value, project=project)
    where = display_path(change.path, ctx.home)
    old = "unset" if change.old is None else format_value(change.old)
    created = ", file created" if change.created else ""
    render.line(f"{where}: {change.key} = {format_value(change.new)} (was {old}{created})")
    _warn_if_overridden(ctx, change.key, str(change.path))


@config.command()
@render.json_option
def path(as_json: bool) -> None:
    """List the config files coi reads, and which exist."""
    ctx = ConfigContext.from_environ()
    files = [{"layer": kind, "path": str(p), "exists": p.is_file()}
             for kind, p in config_files(ctx)]
    render.emit(files, as_json, lambda rows: render.table(
        ["LAYER", "PATH", "STATUS"],
        [[r["layer"], display_path(r["path"], ctx.home), "found" if r["exists"] else "missing"]
         for r in rows]))


def _value_text(key: str, value: Any) -> str:
    if isinstance(value, Mapping):
        return dump_toml(value, prefix=key)
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _origins_json(loaded: LoadedConfig) -> dict[str, dict[str, Any]]:
    return {key: _origin_json(o, loaded) for key, o in loaded.origins.items()}


def _origin_json(origin: Origin, loaded: LoadedConfig) -> dict[str, Any]:
    via = origin.via.name if origin.via is not None else None
    return {"kind": origin.kind, "name": origin.name, "via": via,
            "label": origin.label(loaded.home)}


def _warn_if_overridden(ctx: ConfigContext, key: str, edited: str) -> None:
    """Say so when a later layer still decides the value the user just set."""
    try:
        origin = load_config(ctx).origin(key)
    except CoiError:
        return  # another file is broken; loading will report it where it matters
    if origin is not None and origin.kind != "default" and origin.name != edited:
        render.warn(f"{key} is still overridden by {origin.label(ctx.home)}")
