"""`coi container`: low-level container operations for scripts and debugging.

Exit statuses are coi's usual ones (README); `exists` and `running` answer with 0 or 1
and print nothing; `exec` passes the command's status through (see container_exec).
"""

from __future__ import annotations

import click

from coi.cli import render
from coi.cli.connection import incus_client
from coi.cli.container_exec import exec_command
from coi.cli.container_view import info, list_command


@click.group()
def container() -> None:
    """Launch, stop, delete, inspect, mount and exec into containers."""


@container.command()
@click.argument("image")
@click.argument("name")
@click.option("--ephemeral", is_flag=True, help="Delete the container when it stops.")
def launch(image: str, name: str, ephemeral: bool) -> None:
    """Create and start container NAME from IMAGE (with nesting enabled, for Docker)."""
    from coi.ops import containers

    with incus_client() as client:
        containers.launch(client, image, name, ephemeral=ephemeral)
    render.line(f"Launched {name} from {image}" + (" (ephemeral)" if ephemeral else ""))


@container.command()
@click.argument("name")
def start(name: str) -> None:
    """Start container NAME (or resume it if it is frozen)."""
    from coi.ops import containers

    with incus_client() as client:
        changed = containers.start(client, name)
    render.line(f"Started {name}" if changed else f"{name} is running already")


@container.command()
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Kill it instead of a clean shutdown.")
@click.option("--timeout", type=click.IntRange(min=1), default=30, show_default=True,
              metavar="S", help="Seconds to wait for a clean shutdown.")
def stop(name: str, force: bool, timeout: int) -> None:
    """Stop container NAME."""
    from coi.ops import containers

    with incus_client() as client:
        changed = containers.stop(client, name, force=force, timeout=timeout)
    render.line(f"Stopped {name}" if changed else f"{name} is stopped already")


@container.command()
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Delete it even if it is running.")
def delete(name: str, force: bool) -> None:
    """Delete container NAME (a running one only with --force)."""
    from coi.ops import containers

    with incus_client() as client:
        containers.delete(client, name, force=force)
    render.line(f"Deleted {name}")


@container.command()
@click.argument("name")
@click.pass_context
def exists(ctx: click.Context, name: str) -> None:
    """Exit 0 if container NAME exists, 1 if not. Prints nothing."""
    from coi.ops import containers

    with incus_client() as client:
        found = containers.exists(client, name)
    ctx.exit(0 if found else 1)


@container.command()
@click.argument("name")
@click.pass_context
def running(ctx: click.Context, name: str) -> None:
    """Exit 0 if container NAME is running, 1 if not (or missing). Prints nothing."""
    from coi.ops import containers

    with incus_client() as client:
        up = containers.running(client, name)
    ctx.exit(0 if up else 1)


@container.command()
@click.argument("name")
@click.argument("device")
@click.argument("source", type=click.Path())
@click.argument("path")
@click.option("--shift/--no-shift", default=True, show_default=True,
              help="Map file owners into the container (idmapped mount).")
@click.option("--readonly", is_flag=True, help="Mount read-only.")
def mount(*, name: str, device: str, source: str, path: str, shift: bool,
          readonly: bool) -> None:
    """Mount host directory SOURCE at PATH in container NAME, as disk device DEVICE.

    A running container gets it at once. Without --shift, Incus 6.0 cannot add the
    mount to a running container: stop it first.
    """
    from coi.ops import containers

    spec = containers.make_mount(device, source, path, shift=shift, readonly=readonly)
    with incus_client() as client:
        containers.mount(client, name, spec)
    render.line(f"Mounted {spec.source} at {name}:{spec.path} (device {device})")

container.add_command(exec_command)
container.add_command(list_command)
container.add_command(info)
