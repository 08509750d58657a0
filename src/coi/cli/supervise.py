"""`coi _supervise` (hidden): the detached per-session supervisor process.

Started by `coi shell`, never by hand; see coi.session.supervisor for what it does.
`python -m coi _supervise` skips click altogether (coi.session.daemon.supervise_main);
this command is the same entry for `coi _supervise` through the CLI.
"""

from __future__ import annotations

import click


@click.command("_supervise", hidden=True)
@click.option("--spec", required=True, help="The supervisor's spec, as JSON.")
@click.option("--lock-fd", type=int, required=True)
@click.option("--ready-fd", type=int, required=True)
def supervise_command(*, spec: str, lock_fd: int, ready_fd: int) -> None:
    """Look after one session until it ends (internal)."""
    from coi.session.daemon import supervise_main

    code = supervise_main(["--spec", spec, "--lock-fd", str(lock_fd),
                           "--ready-fd", str(ready_fd)])
    if code:
        raise SystemExit(code)
