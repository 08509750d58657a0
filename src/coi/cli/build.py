"""`coi build` (the default image) and `coi build custom NAME --script FILE`."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from coi.cli import render

if TYPE_CHECKING:
    from coi.images.build import BuildRequest
    from coi.images.events import BuildEvent, Emit
    from coi.incus.client import Client

TOOLS_HELP = "AI tools, comma-separated: claude, opencode, aider, codex, or none."


@click.group(invoke_without_command=True)
@click.option("--force", is_flag=True, help="Rebuild even if the image exists.")
@click.option("--base-source", type=click.Choice(["auto", "local", "remote"]), default="auto",
              show_default=True, help="How to make coi-base if it is missing (as coi setup).")
@click.option("--tools", default=None, help=TOOLS_HELP + "  [default: claude,opencode]")
@click.option("--apt-mirror", metavar="URL", help="Debian mirror for apt [env COI_APT_MIRROR].")
@click.option("--apt-proxy", metavar="URL", help="HTTP proxy for apt [env COI_APT_PROXY].")
@click.option("--no-host-ca", is_flag=True, help="Do not copy the host's CA certificates.")
@click.option("-v", "--verbose", is_flag=True, help="Show the build's full output.")
@click.option("--alias", hidden=True, help="Image name (default: [defaults] image, coi).")
@render.json_option
@click.pass_context
def build(ctx: click.Context, *, force: bool, base_source: str, tools: str | None,
          apt_mirror: str | None, apt_proxy: str | None, no_host_ca: bool, verbose: bool,
          alias: str | None, as_json: bool) -> None:
    """Build the default image (`coi`): Debian with dev tools, Docker, gh, Node.js, the
    AI tools and the dummy test tool, on top of coi-base.

    An existing image is kept unless --force is given. The full output goes to a log
    in ~/.coi/logs; the image is published as coi-YYYYMMDD-HHMMSS and `coi` moves to it
    only when the build succeeded.
    """
    if ctx.invoked_subcommand is not None:
        _no_group_options(ctx)
        return
    from coi.images import plans

    request = plans.default_request(
        alias=alias or _default_image(), tools=plans.parse_tools(tools),
        apt=plans.AptSettings.choose(apt_mirror, apt_proxy), host_ca=not no_host_ca,
        force=force)
    _run(request, verbose, as_json, base_source=base_source)


@build.command("custom")
@click.argument("name")
@click.option("--script", required=True, type=click.Path(path_type=Path),
              help="Build script, run as root in the build container.")
@click.option("--base", default=None, help="Image to start from  [default: coi]")
@click.option("--force", is_flag=True, help="Rebuild even if NAME exists.")
@click.option("--with-workspace", is_flag=True,
              help="Make the current directory readable at /workspace during the build.")
@render.json_option
def custom(*, name: str, script: Path, base: str | None, force: bool, with_workspace: bool,
           as_json: bool) -> None:
    """Build the image NAME by running your script on top of a base image.

    The script's output is shown as it runs and kept in ~/.coi/logs. The image is
    published as NAME-YYYYMMDD-HHMMSS, and NAME points at it.
    """
    from coi.images import plans

    request = plans.custom_request(name, script, base=base or _default_image(), force=force,
                                   workspace=Path.cwd() if with_workspace else None)
    _run(request, True, as_json)


def _no_group_options(ctx: click.Context) -> None:
    given = [p.name for p in ctx.command.params if p.name and
             ctx.get_parameter_source(p.name) is not click.core.ParameterSource.DEFAULT]
    if given:
        from coi.errors import UsageError

        raise UsageError("options before `custom` belong to the default build",
                         hint="put them after `custom NAME`")


def _default_image() -> str:
    from coi.config import load_config

    return load_config().config.defaults.image


def _run(request: BuildRequest, verbose: bool, as_json: bool,
         base_source: str | None = None) -> None:
    from coi.images.build import HostPaths, build_image, find_image
    from coi.images.events import BuildFailed
    from coi.incus.client import Client

    out = sys.stderr if as_json else sys.stdout
    with Client(timeout=120.0) as client, _signals_interrupt(), _progress(out, verbose) as emit:
        if base_source is not None and (request.rebuild != "missing"
                                        or find_image(client, request.alias) is None):
            _base(client, request.base, base_source, emit)
        try:
            result = build_image(client, request, HostPaths.for_user(), emit)
        except BuildFailed as exc:
            _show_tail(exc.tail)
            raise
    from coi.images.progress import summary

    render.emit(result.to_json(), as_json, lambda _: summary(result))


def _base(client: Client, base: str, source: str, emit: Emit) -> None:
    from coi.images.events import BuildEvent, Clock, Kind
    from coi.images.plans import ensure_base

    clock = Clock()
    ensure_base(client, base, source,
                on_note=lambda text: emit(BuildEvent(Kind.NOTE, text, clock.elapsed())))


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM, like Ctrl-C, stops the build through its cleanup; a second signal is
    ignored, so it cannot cut that cleanup short."""
    seen: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if not seen:
            seen.append(signum)
            raise KeyboardInterrupt

    before = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in before.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def _progress(out: IO[str], verbose: bool) -> Iterator[Emit]:
    from coi.images.events import Clock
    from coi.images.progress import Progress

    tty = render.is_tty(out) and os.environ.get("TERM") != "dumb"
    view, clock = Progress(tty=tty, verbose=verbose), Clock()
    if not tty:

        def echo(event: BuildEvent) -> None:
            for text in view.lines(event):
                click.echo(text, file=out)

        yield echo
        return
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner

    spinner = Spinner("dots")

    class Status:
        def __rich__(self) -> Spinner:
            spinner.update(text=view.status(clock.elapsed()))
            return spinner

    console = Console(file=out, highlight=False)
    with Live(Status(), console=console, refresh_per_second=5, transient=True) as live:

        def show(event: BuildEvent) -> None:
            for text in view.lines(event):
                live.console.print(text, markup=False)

        yield show
        for text in view.finish(clock.elapsed()):
            live.console.print(text, markup=False)


def _show_tail(lines: tuple[str, ...]) -> None:
    if lines:
        render.line("last lines of the build log:", err=True)
        for text in lines:
            render.line(f"  {text}", err=True)
