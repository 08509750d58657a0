"""The `coi` entry point: the root command group and the one error handler."""

from __future__ import annotations

import sys

import click

from coi import __version__
from coi.cli.errors import run_guarded
from coi.cli.lazy import LazyGroup

COMMANDS = {
    "attach": "coi.cli.attach:attach",
    "build": "coi.cli.build:build",
    "clean": "coi.cli.clean:clean",
    "completion": "coi.cli.completion:completion",
    "config": "coi.cli.config_cmd:config",
    "container": "coi.cli.container:container",
    "file": "coi.cli.file_cmd:file_group",
    "health": "coi.cli.health:health",
    "help": "coi.cli.help_cmd:help_command",
    "image": "coi.cli.image:image",
    "info": "coi.cli.info:info",
    "kill": "coi.cli.kill:kill",
    "list": "coi.cli.list_cmd:list_command",
    "monitor": "coi.cli.monitor:monitor",
    "persist": "coi.cli.persist:persist",
    "run": "coi.cli.run:run",
    "setup": "coi.cli.setup:setup",
    "shell": "coi.cli.shell:shell",
    "shutdown": "coi.cli.shutdown:shutdown",
    "snapshot": "coi.cli.snapshot:snapshot",
    "tmux": "coi.cli.tmux_cmd:tmux",
    "trust": "coi.cli.trust:trust",
    "unfreeze": "coi.cli.unfreeze:unfreeze",
    "version": "coi.cli.version:version",
}
# Internal commands coi runs itself: callable, but not listed in help or completion.
HIDDEN_COMMANDS = {
    "_supervise": "coi.cli.supervise:supervise_command",
}


@click.group(
    cls=LazyGroup,
    lazy={**COMMANDS, **HIDDEN_COMMANDS},
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="coi",
                      message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """coi runs AI coding assistants (Claude Code, opencode, Aider, Codex) inside
    isolated Incus system containers: your repository is mounted at /workspace, while
    your host, credentials and network stay out of reach. `coi` alone is `coi shell`.

    First time on this machine? Run `sudo coi setup`, then `coi health`.
    """
    if ctx.invoked_subcommand is None:
        from coi.cli.shell import shell

        ctx.invoke(shell)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_guarded(cli, argv))
