"""A click group that imports a command's module only when that command runs.

Keeps `coi --help` and every command's start-up cheap: heavy modules load on demand.
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """Subcommands named as "module:attribute", imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Names starting with "_" are internal (e.g. `_supervise`): callable, not listed.
        names = {*super().list_commands(ctx), *self.lazy}
        return sorted(n for n in names if not n.startswith("_"))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands with their short help, read from a static table (no imports)."""
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


# One line per command for `coi --help`, so listing them needs no imports.
SHORT_HELP: dict[str, str] = {
    "attach": "Attach to a running session's terminal.",
    "build": "Build the coi image, or a custom image from your script.",
    "clean": "Remove leftover and orphaned session containers.",
    "completion": "Print a shell completion script (bash, zsh, fish).",
    "config": "Show, get and set configuration values.",
    "container": "Low-level container operations: launch, exec, mount, list, ….",
    "file": "Copy files between the host and a container (push, pull).",
    "health": "Check that this host is ready to run coi sessions.",
    "help": "Show help for a command.",
    "image": "List, inspect, publish, delete and clean up images.",
    "info": "Show a saved session.",
    "kill": "Stop session containers at once (sessions still saved).",
    "list": "List session containers, and with --all saved sessions.",
    "monitor": "Show a container's processes, connections, I/O and threats.",
    "persist": "Keep session containers when their session ends.",
    "run": "Run one command (or one headless prompt) in a fresh container.",
    "setup": "Install and configure Incus on this host (run as root).",
    "shell": "Start an interactive AI coding session (the default command).",
    "shutdown": "Stop session containers cleanly (sessions saved first).",
    "snapshot": "Snapshot and restore a container, optionally with its workspace.",
    "tmux": "Send keys to and capture a running session's tmux, for scripts.",
    "trust": "Approve a project's .coi.toml (pinned to its content).",
    "unfreeze": "Resume a container the security monitor paused.",
    "version": "Show the coi version.",
}
