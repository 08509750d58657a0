"""`coi kill`: stop session containers at once, then save and delete (or keep)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.cli.shutdown import RESULTS_HELP

if TYPE_CHECKING:
    from coi.session.lifecycle import Backend, Outcome
    from coi.session.listing import SessionContainer
    from coi.session.store import SessionStore


@click.command(epilog=RESULTS_HELP)
@click.argument("names", nargs=-1, metavar="[NAMES]...")
@click.option("-a", "--all", "everything", is_flag=True, help="Every session container.")
@click.option("-f", "--force", is_flag=True, help="Do not ask before --all.")
@render.json_option
def kill(names: tuple[str, ...], everything: bool, force: bool, as_json: bool) -> None:
    """Kill session containers by name (see `coi list`) or --all: stop at once.

    The session's data is still saved, from the stopped container; then ephemeral
    containers are deleted and persistent ones kept stopped. A container whose data could
    not be saved is kept. For a clean stop use `coi shutdown`.
    """
    from coi.cli.lifecycle_env import act_on
    from coi.session.lifecycle import End, end_session

    def act(backend: Backend, store: SessionStore, target: SessionContainer) -> Outcome:
        return end_session(backend, store, target, End.KILL, timeout=0)

    act_on(names, everything, force=force, verb="kill", make_act=lambda _: act,
           as_json=as_json)
