"""`coi shutdown`: save the session, stop the container cleanly, then delete it
(ephemeral) or keep it stopped (persistent)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from coi.cli import render

if TYPE_CHECKING:
    from coi.cli.lifecycle_env import Act, Local
    from coi.session.lifecycle import Backend, Outcome
    from coi.session.listing import SessionContainer
    from coi.session.store import SessionStore

RESULTS_HELP = """\b
JSON (--json), documented in docs/lifecycle.md: {"results": [{"container", "action",
"session_id", "saved", "error", "notes": [...]}]}; action is deleted, stopped (kept,
persistent) or failed. Exit status 1 if any container failed."""


@click.command(epilog=RESULTS_HELP)
@click.argument("names", nargs=-1, metavar="[NAMES]...")
@click.option("-a", "--all", "everything", is_flag=True, help="Every session container.")
@click.option("--timeout", type=click.IntRange(min=0), metavar="S",
              help="Seconds to wait for a clean stop before forcing it "
                   "[default: session.shutdown_timeout_sec, 60].")
@click.option("-f", "--force", is_flag=True, help="Do not ask before --all.")
@render.json_option
def shutdown(names: tuple[str, ...], everything: bool, timeout: int | None, force: bool,
             as_json: bool) -> None:
    """Shut down session containers by name (see `coi list`) or --all.

    The session's data is saved first (so `coi shell --resume` can continue it), the
    workspace files are handed back to you, then the container is stopped cleanly and
    forced after the timeout. Ephemeral containers are deleted, persistent ones kept
    stopped. A container whose data could not be saved is kept (stopped), never deleted.
    """
    from coi.cli.lifecycle_env import act_on
    from coi.session.lifecycle import End, end_session

    def make_act(env: Local) -> Act:
        seconds = env.loaded.config.session.shutdown_timeout_sec if timeout is None else timeout

        def act(backend: Backend, store: SessionStore, target: SessionContainer) -> Outcome:
            return end_session(backend, store, target, End.SHUTDOWN, timeout=seconds)

        return act

    act_on(names, everything, force=force, verb="shut down", make_act=make_act,
           as_json=as_json)
