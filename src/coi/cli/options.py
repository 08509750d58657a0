"""The session flags `coi shell` and `coi run` share, folded into one SessionFlags.

`--resume` and `--continue` take an optional value: alone they mean the newest session
of this workspace; `--resume=ID` names one (the `=` form, as in the original).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from coi.session.plan import SessionFlags

F = TypeVar("F", bound=Callable[..., Any])

TOOLS = ("claude", "opencode", "aider", "codex", "dummy")
NETWORK_MODES = ("restricted", "allowlist", "open")

_OPTIONS = [
    click.option("-w", "--workspace", default=".", metavar="PATH", show_default=True,
                 help="Workspace directory, mounted at /workspace."),
    click.option("--slot", type=click.IntRange(1, 10), metavar="N",
                 help="Slot for parallel sessions of one workspace (default: lowest free)."),
    click.option("--persistent", is_flag=True, default=None,
                 help="Keep the container (and what was installed in it) after the session."),
    click.option("--resume", is_flag=False, flag_value="auto", default=None, metavar="[=ID]",
                 help="Resume the newest session of this workspace, or session ID."),
    click.option("--continue", "continue_", is_flag=False, flag_value="auto", default=None,
                 metavar="[=ID]", help="Same as --resume."),
    click.option("--profile", metavar="NAME", help="Apply the config profile NAME."),
    click.option("-e", "--env", "env", multiple=True, metavar="K=V",
                 help="Environment variable for the tool (repeatable; K alone copies yours)."),
    click.option("--storage", metavar="PATH",
                 help="Persistent storage mounted at /storage: a name under "
                      "[paths] storage_dir, or a directory path. Created if missing."),
    click.option("--mount", "mounts", multiple=True, metavar="HOST:CONTAINER[:ro]",
                 help="Extra bind mount (repeatable)."),
    click.option("--image", metavar="NAME", help="Image to start from (default: coi)."),
    click.option("--network", type=click.Choice(NETWORK_MODES),
                 help="Network mode (default: restricted)."),
    click.option("--tool", type=click.Choice(TOOLS), help="AI tool (default: claude)."),
    click.option("--writable-git-hooks", is_flag=True,
                 help="Do not protect .git/hooks and the other protected paths "
                      "(see docs/security.md)."),
]
# --limit-* flag -> `[limits]` key (docs/security.md, "Resource limits").
LIMITS: list[tuple[str, str, Any, str]] = [
    ("--limit-cpu", "cpu", str, "CPUs: a count (2) or a set (0-3,6)."),
    ("--limit-cpu-allowance", "cpu_allowance", str, "CPU time: 50% (soft) or 25ms/100ms."),
    ("--limit-memory", "memory", str, "Memory, e.g. 2GiB."),
    ("--limit-memory-swap", "memory_swap", click.BOOL,
     "Allow swap (false needs --limit-memory)."),
    ("--limit-disk-read", "disk_read", str, "Root disk read rate, e.g. 50MB or 1000iops."),
    ("--limit-disk-write", "disk_write", str, "Root disk write rate, e.g. 50MB."),
    ("--limit-processes", "processes", click.IntRange(min=1), "Maximum processes."),
    ("--limit-duration", "duration", str,
     "Stop the session after this long (2h, 45m, 1h30m, 20s); saved first."),
]
_OPTIONS += [click.option(flag, f"limit_{key}", type=kind, default=None, metavar="V", help=text)
             for flag, key, kind, text in LIMITS]


def session_options(func: F) -> F:
    """Add the shared flags; the command receives them as `flags: SessionFlags`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["flags"] = _fold(kwargs)
        return func(*args, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def _fold(kwargs: dict[str, Any]) -> SessionFlags:
    continue_ = kwargs.pop("continue_")
    resume = kwargs.pop("resume")
    return SessionFlags(
        workspace=kwargs.pop("workspace"), slot=kwargs.pop("slot"),
        persistent=kwargs.pop("persistent"), resume=continue_ or resume,
        profile=kwargs.pop("profile"), env=tuple(kwargs.pop("env")),
        storage=kwargs.pop("storage"), mounts=tuple(kwargs.pop("mounts")),
        image=kwargs.pop("image"), network=kwargs.pop("network"), tool=kwargs.pop("tool"),
        debug=kwargs.pop("debug", False),
        writable_git_hooks=kwargs.pop("writable_git_hooks"), limits=_limits(kwargs),
    )


def _limits(kwargs: dict[str, Any]) -> tuple[tuple[str, object], ...]:
    given = [(key, kwargs.pop(f"limit_{key}")) for _, key, _, _ in LIMITS]
    return tuple((key, value) for key, value in given if value is not None)
