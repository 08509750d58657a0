"""`coi version`."""

from __future__ import annotations

import click

from coi import __version__
from coi.cli import render


@click.command()
@render.json_option
def version(as_json: bool) -> None:
    """Show the coi version (`--json` for scripts)."""
    data = {"version": __version__, "name": "coi"}
    render.emit(data, as_json, lambda d: f"coi {d['version']}")
