"""`coi setup`: make this host ready for coi (Incus, pool, bridge, profile, base image)."""

from __future__ import annotations

import time

import click

from coi.cli import render
from coi.errors import PermissionDenied, SetupError
from coi.host.context import BASE_SOURCES, STORAGE_CHOICES, SetupOptions
from coi.host.invoker import running_as_root
from coi.host.steps import State, StepEvent, Summary

SYMBOLS = {State.OK: "ok", State.DONE: "+", State.PLANNED: " ", State.SKIPPED: "-",
           State.RUNNING: "..", State.FAILED: "!"}


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option("--storage", type=click.Choice(STORAGE_CHOICES), default="auto",
              show_default=True, help="Pool driver: btrfs on a loop file, or plain dir.")
@click.option("--storage-size", default="30GiB", show_default=True,
              help="Loop file size (capped to 80% of the free disk space).")
@click.option("--pool", default="default", show_default=True, help="Storage pool name.")
@click.option("--network", default="incusbr0", show_default=True, help="Bridge name.")
@click.option("--subnet", default=None, help="Bridge IPv4 subnet (default: a free 10.x /24).")
@click.option("--profile", default="default", show_default=True, help="Incus profile.")
@click.option("--base-source", type=click.Choice(BASE_SOURCES), default="auto",
              show_default=True, help="coi-base from images.linuxcontainers.org or built here.")
@click.option("--base-release", default=None,
              help="Debian release for coi-base (default: the host's, else trixie).")
@click.option("--mirror", default=None, help="Debian mirror (default: the host's apt mirror).")
@click.option("--no-image", "no_image", is_flag=True, help="Skip the coi-base image.")
def setup(*, dry_run: bool, storage: str, storage_size: str, pool: str, network: str,
         subnet: str | None, profile: str, base_source: str, base_release: str | None,
         mirror: str | None, no_image: bool) -> None:
    """Install and configure Incus on this host for coi. Run as root (sudo coi setup).

    Safe to run again: steps already done are reported as [ok] and left alone.
    """
    if not dry_run and not running_as_root():
        raise PermissionDenied("coi setup changes the system and must run as root",
                               hint="run `sudo coi setup`, or `coi setup --dry-run` to look")
    options = SetupOptions(storage=storage, storage_size=storage_size, pool=pool,
                           network=network, subnet=subnet, profile=profile,
                           base_source=base_source, base_release=base_release, mirror=mirror,
                           with_image=not no_image)
    options.validate()
    from coi.host.setup import run_setup
    from coi.host.steps import summarize

    started = time.monotonic()
    events = []
    for event in run_setup(options, dry_run=dry_run):
        events.append(event)
        show(event)
    finish(summarize(events), dry_run, time.monotonic() - started)


def show(event: StepEvent) -> None:
    if event.state is State.RUNNING and not event.slow:
        return
    text = event.message
    if event.state is State.RUNNING:
        text += " …"
    if event.state is State.DONE and event.seconds is not None and event.seconds >= 1:
        text += f" ({event.seconds:.1f} s)"
    if event.state is State.FAILED:
        text = f"{event.step} failed: {text}"
    head, *rest = text.splitlines() or [""]
    render.step(SYMBOLS[event.state], head)
    for extra in rest:
        render.line(f"     {extra}")
    if event.fix:
        render.line(f"     fix: {event.fix}")


def finish(summary: Summary, dry_run: bool, seconds: float) -> None:
    if summary.failed is not None:
        raise SetupError(f"setup stopped at step '{summary.failed.step}'",
                         hint=summary.failed.fix)
    if summary.nothing_to_do:
        render.line("nothing to do: this host is ready for coi (check it with `coi health`)")
    elif dry_run:
        render.line(f"dry run: {summary.planned} step(s) would change this host")
    else:
        render.line(f"done: {summary.changed} step(s) changed this host in {seconds:.1f} s; "
                    "check it with `coi health`")
