"""`coi persist`: keep session containers when their session ends."""

from __future__ import annotations

import click

from coi.cli import render


@click.command(epilog="""\b
JSON (--json), documented in docs/lifecycle.md: {"results": [{"container", "action",
"session_id", "saved", "error", "notes": [...]}]}; action is persisted, unchanged
(persistent already) or failed.""")
@click.argument("names", nargs=-1, metavar="[NAMES]...")
@click.option("-a", "--all", "everything", is_flag=True, help="Every session container.")
@click.option("-f", "--force", is_flag=True, help="Do not ask before --all.")
@render.json_option
def persist(names: tuple[str, ...], everything: bool, force: bool, as_json: bool) -> None:
    """Make session containers persistent (see `coi list`), or --all of them.

    A persistent container is kept, stopped, when its session ends (instead of being
    deleted), with everything installed in it; `coi shell` in the same workspace and slot
    starts it again. Sets the container's user.coi.persistent key and the session record.
    """
    from coi.cli.lifecycle_env import act_on
    from coi.session.lifecycle import persist as persist_one

    act_on(names, everything, force=force, verb="persist",
           make_act=lambda _: persist_one, as_json=as_json)
