"""`coi _supervise` (hidden): the detached per-session supervisor process.

Started by `coi shell`, never by hand; see coi.session.supervisor for what it does.
"""

from __future__ import annotations

from pathlib import Path

import click


def _owner(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    uid, _, gid = value.partition(":")
    return int(uid), int(gid)


@click.command("_supervise", hidden=True)
@click.option("--container", required=True)
@click.option("--session", "session_id", required=True)
@click.option("--tool", required=True)
@click.option("--coi-home", required=True, type=click.Path(path_type=Path))
@click.option("--log", "log_path", required=True, type=click.Path(path_type=Path))
@click.option("--remote", default="")
@click.option("--project", default="default")
@click.option("--code-uid", type=int, default=1000)
@click.option("--home", default="/home/code")
@click.option("--save-interval", type=float, default=300.0)
@click.option("--shutdown-timeout", type=int, default=60)
@click.option("--owner", default=None)
@click.option("--network", default="")
@click.option("--duration", type=float, default=0.0)
@click.option("--lock-fd", type=int, required=True)
@click.option("--ready-fd", type=int, required=True)
def supervise_command(*, container: str, session_id: str, tool: str, coi_home: Path,
                      log_path: Path, remote: str, project: str, code_uid: int, home: str,
                      save_interval: float, shutdown_timeout: int, owner: str | None,
                      network: str, duration: float, lock_fd: int, ready_fd: int) -> None:
    """Look after one session until it ends (internal)."""
    import logging

    from coi.session.daemon import detach, signal_ready
    from coi.session.supervisor import SupervisorSpec, supervise

    spec = SupervisorSpec(container=container, session_id=session_id, tool=tool,
                          coi_home=coi_home, log_path=log_path, remote=remote,
                          project=project, code_uid=code_uid, home=home,
                          save_interval=save_interval, shutdown_timeout=shutdown_timeout,
                          owner=_owner(owner), network=network, duration=duration)
    detach()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("coi.supervisor").info(
        "supervising %s (session %s, lock fd %d)", container, session_id, lock_fd)
    outcome = supervise(spec, ready=lambda: signal_ready(ready_fd), lock_fd=lock_fd)
    logging.getLogger("coi.supervisor").info("done: %s", outcome)
