"""`coi help [COMMAND…]`: the same text as `coi COMMAND --help`."""

from __future__ import annotations

import click

from coi.errors import UsageError


@click.command("help")
@click.argument("command", nargs=-1)
@click.pass_context
def help_command(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Show help for COMMAND (e.g. `coi help config set`)."""
    root = ctx.find_root()
    group: click.Command = root.command
    sub_ctx = root
    for name in command:
        if not isinstance(group, click.Group):
            raise UsageError(f"'{group.name}' has no subcommand '{name}'",
                             hint="see `coi help`")
        found = group.get_command(sub_ctx, name)
        if found is None:
            raise UsageError(f"no such command '{name}'", hint="see `coi help` for the list")
        sub_ctx = click.Context(found, info_name=name, parent=sub_ctx)
        group = found
    click.echo(group.get_help(sub_ctx))
