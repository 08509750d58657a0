"""The `coi` entry point: the root command group and the one error handler."""

from __future__ import annotations

import sys

import click

from coi import __version__
from coi.cli.errors import run_guarded
from coi.cli.lazy import LazyGroup

COMMANDS = {
    "completion": "coi.cli.completion:completion",
    "config": "coi.cli.config_cmd:config",
    "health": "coi.cli.health:health",
    "help": "coi.cli.help_cmd:help_command",
    "setup": "coi.cli.setup:setup",
    "version": "coi.cli.version:version",
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="coi",
                      message="%(prog)s %(version)s")
def cli() -> None:
    """coi runs AI coding assistants (Claude Code, opencode, Aider, Codex) inside
    isolated Incus system containers: your repository is mounted at /workspace, while
    your host, credentials and network stay out of reach.

    First time on this machine? Run `sudo coi setup`, then `coi health`.
    """


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_guarded(cli, argv))
