"""`coi completion SHELL`: print a completion script for bash, zsh or fish."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": 'eval "$(coi completion bash)"   # add to ~/.bashrc',
    "zsh": 'eval "$(coi completion zsh)"    # add to ~/.zshrc',
    "fish": "coi completion fish > ~/.config/fish/completions/coi.fish",
}


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(coi completion bash)"   # in ~/.bashrc
    zsh:   eval "$(coi completion zsh)"    # in ~/.zshrc
    fish:  coi completion fish > ~/.config/fish/completions/coi.fish
    """
    completer_class = get_completion_class(shell)
    if completer_class is None:  # click knows all three; guard for older versions
        raise click.BadParameter(f"unsupported shell {shell}")
    root = ctx.find_root().command
    completer = completer_class(root, {}, "coi", "_COI_COMPLETE")
    click.echo(completer.source())
