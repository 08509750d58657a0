"""What the `coi snapshot` commands share: target options, the store, confirmation."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from coi.cli.connection import incus_client
from coi.errors import UsageError

if TYPE_CHECKING:
    from coi.incus.client import Client
    from coi.ops.snapstore import SnapshotStore

F = TypeVar("F", bound=Callable[..., Any])


def target_options(func: F) -> F:
    return _targeting(long_workspace=True)(func)


def create_target_options(func: F) -> F:
    return _targeting(long_workspace=False)(func)


def _targeting(*, long_workspace: bool) -> Callable[[F], F]:
    """-c/--container and -w/--workspace-dir, folded into one `target` (container or
    None, workspace path) that `session` resolves. `--workspace PATH` works too, except
    on `create`, where `--workspace` is the flag that includes the workspace copy."""
    def decorate(inner: F) -> F:
        @functools.wraps(inner)
        def wrapper(*args: Any, container: str | None, workspace_dir: str,
                    **kwargs: Any) -> Any:
            return inner(*args, target=(container, workspace_dir), **kwargs)

        names = ["-w", "--workspace-dir", *(["--workspace"] if long_workspace else [])]
        wrapper = click.option(*names, "workspace_dir", default=".", metavar="PATH",
                               help="Workspace whose container to use (default: here).")(wrapper)
        wrapper = click.option("-c", "--container", metavar="NAME",
                               help="Container (default: $COI_CONTAINER, else the "
                                    "workspace's).")(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


@contextlib.contextmanager
def session(target: tuple[str | None, str]) -> Iterator[tuple[Client, SnapshotStore, str]]:
    from coi.config.context import invoking_home, sudo_owner
    from coi.ops.snapstore import SnapshotStore
    from coi.ops.target import resolve
    from coi.state import coi_home
    from coi.workspace import workspace_path

    home = invoking_home(os.environ, os.geteuid())
    store = SnapshotStore(coi_home(home) / "snapshots", sudo_owner(os.environ, os.geteuid()))
    with incus_client() as client:
        name = resolve(client, target[0], workspace_path(target[1]), os.environ)
        yield client, store, name


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("this needs confirmation and there is no terminal to ask on",
                         hint="pass --yes to go ahead")
    click.confirm(question, abort=True)
