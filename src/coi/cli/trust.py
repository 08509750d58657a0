"""`coi trust`: approve a project's `.coi.toml`, pinned to its exact content."""

from __future__ import annotations

import os
from pathlib import Path

import click

from coi.cli import render
from coi.config.context import PROJECT_CONFIG_NAME, ConfigContext
from coi.errors import NotFound, UsageError


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--list", "list_", is_flag=True, help="List trusted files.")
@click.option("--revoke", is_flag=True, help="Stop trusting PATH.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@render.json_option
def trust(path: Path | None, list_: bool, revoke: bool, yes: bool, as_json: bool) -> None:
    """Let PATH (default ./.coi.toml) weaken security settings.

    Until trusted, values in a project file that weaken security (network mode,
    protected paths, forwarded variables, raised limits, ...) are ignored with a
    warning. Trust is pinned to the file's sha256: any later edit needs a new approval.
    """
    from coi.security import trust as store

    ctx = ConfigContext.from_environ()
    home = ctx.home / ".coi"
    if list_:
        files = store.load(home)
        render.emit(files, as_json, lambda f: "\n".join(
            f"{p}  {e['sha256'][:12]}  {'ok' if _current(home, Path(p)) else 'CHANGED'}"
            for p, e in sorted(f.items())) or "no trusted project files")
        return
    target = Path(os.path.abspath(path or Path.cwd() / PROJECT_CONFIG_NAME))
    if revoke:
        store.revoke(home, target, ctx.owner)
        render.line(f"no longer trusted: {target}")
        return
    if not target.is_file():
        raise NotFound(f"{target}: no such file")
    _approve(ctx, home, target, yes, as_json)


def _current(home: Path, path: Path) -> bool:
    from coi.security import trust as store

    return store.is_trusted(home, path)


def _approve(ctx: ConfigContext, home: Path, target: Path, yes: bool, as_json: bool) -> None:
    from coi.security import trust as store

    allowed = _would_allow(ctx, target)
    if not as_json:
        render.line(f"{target} would be allowed to set:" if allowed else
                    f"{target} sets nothing that weakens security.")
        for key in allowed:
            render.line(f"  {key}")
    if not yes and not click.confirm("Trust this exact content?", default=False):
        raise UsageError("not trusted")
    sha = store.pin(home, target, ctx.owner)
    render.emit({"path": str(target), "sha256": sha, "allows": allowed}, as_json,
                lambda _: f"trusted {target} (sha256 {sha[:12]})")


def _would_allow(ctx: ConfigContext, target: Path) -> list[str]:
    """The weakening keys the file sets, as `sanitise` would drop them untrusted."""
    import msgspec

    from coi.config.loader import load_config
    from coi.security import untrusted

    project_ctx = msgspec.structs.replace(ctx, cwd=target.parent)
    if target.name != PROJECT_CONFIG_NAME:
        raise UsageError(f"{target}: coi reads project config only from {PROJECT_CONFIG_NAME}")
    loaded = load_config(project_ctx)
    base = untrusted.baseline(project_ctx)
    # An empty home means no pins: what would be dropped is what trust allows.
    return untrusted.sanitise(loaded, base, Path("/nonexistent/coi-home")).dropped
