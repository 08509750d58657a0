"""What the session lifecycle commands (list, info, persist, shutdown, kill, clean) share:
config, a daemon connection, the saved-session store, confirmation and time display."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from coi.cli import render
from coi.errors import CoiError, UsageError

if TYPE_CHECKING:
    from coi.config import LoadedConfig
    from coi.incus.client import Client
    from coi.session.lifecycle import Backend, Outcome
    from coi.session.lifecycle_incus import IncusBackend
    from coi.session.listing import SessionContainer
    from coi.session.store import SessionStore


@dataclass(frozen=True)
class Local:
    """The invoking user's side: config, ~/.coi and the saved sessions in it."""

    loaded: LoadedConfig
    store: SessionStore
    prefix: str

    @property
    def coi_home(self) -> Path:
        return self.store.root

    def backend(self, client: Client) -> IncusBackend:
        from coi.session.lifecycle_incus import IncusBackend
        from coi.session.paths import container_home

        settings = self.loaded.config.incus
        return IncusBackend(client, self.store, self.coi_home, code_uid=settings.code_uid,
                            home=container_home(settings.code_user))


def local() -> Local:
    """Config (with the workspace's .coi.toml), and the store under the invoking user's
    ~/.coi (HOME, or SUDO_USER's home under sudo)."""
    from coi.config import ConfigContext, load_config
    from coi.session.store import SessionStore
    from coi.state import coi_home
    from coi.workspace import container_prefix

    ctx = ConfigContext.from_environ()
    loaded = load_config(ctx)
    return Local(loaded, SessionStore(coi_home(loaded.home), ctx.owner), container_prefix())


@contextlib.contextmanager
def connect(loaded: LoadedConfig) -> Iterator[Client]:
    """A client for the configured remote and project."""
    from coi.incus.remotes import connect as connect_remote

    settings = loaded.config.incus
    origin = loaded.origin("incus.project")
    project = None if origin is None or origin.kind == "default" else settings.project
    with connect_remote(settings.remote or None, project) as client:
        yield client


def confirm(question: str, force: bool) -> bool:
    """Ask [y/N] on the terminal; --force answers yes. Without a terminal, refuse."""
    if force:
        return True
    if not sys.stdin.isatty():
        raise UsageError("not asking without a terminal", hint="add --force to go ahead")
    return click.confirm(question, default=False, err=True)


def when(text: str | None) -> str:
    """An ISO 8601 time as `YYYY-MM-DD HH:MM:SS UTC` (as given when it cannot be read)."""
    if not text:
        return "-"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return text
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


Act = Callable[["Backend", "SessionStore", "SessionContainer"], "Outcome"]


def act_on(names: Sequence[str], everything: bool, *, force: bool, verb: str,
           make_act: Callable[[Local], Act], as_json: bool) -> None:
    """Select containers by NAMES or --all (asking first for --all), act on each, show
    the outcomes; exit 1 if any failed."""
    from coi.session.lifecycle import select
    from coi.session.listing import list_session_containers

    env = local()
    act = make_act(env)
    with connect(env.loaded) as client:
        targets = select(list_session_containers(client, env.prefix), names, everything)
        if everything and not _confirmed(targets, verb, force, as_json):
            return
        backend = env.backend(client)
        outcomes = []
        for target in targets:
            if not as_json and render.is_tty(sys.stderr):
                render.line(f"{verb.capitalize()}: {target.name}…", err=True)
            outcomes.append(_released(act(backend, env.store, target), env.coi_home))
    show_outcomes(outcomes, as_json)
    failed = [o for o in outcomes if o.failed]
    if failed:
        raise CoiError(f"{len(failed)} of {len(outcomes)} container(s) failed: "
                       f"{', '.join(o.container for o in failed)}")


def _released(outcome: Outcome, coi_home: Path) -> Outcome:
    """Once a container is stopped or deleted, its isolation goes (rules, mounts)."""
    from dataclasses import replace

    from coi.session.isolation import release

    if outcome.action not in ("deleted", "stopped"):
        return outcome
    return replace(outcome, notes=(*outcome.notes, *release(coi_home, outcome.container)))


def _confirmed(targets: Sequence[SessionContainer], verb: str, force: bool,
               as_json: bool) -> bool:
    if not targets:
        render.emit({"results": []}, as_json, lambda _: "No session containers.")
        return False
    if force:
        return True
    names = "\n".join(f"  - {t.name} ({t.status.lower()}, {t.mode})" for t in targets)
    render.line(f"Session containers:\n{names}", err=True)
    if confirm(f"{verb.capitalize()} all {len(targets)}?", force):
        return True
    render.line("Cancelled.", err=True)
    return False


def show_outcomes(outcomes: Sequence[Outcome], as_json: bool) -> None:
    render.emit({"results": [o.to_json() for o in outcomes]}, as_json,
                lambda _: "\n".join(outcome_text(o) for o in outcomes))


WHAT = {
    "deleted": "container deleted",
    "stopped": "container kept, stopped (persistent)",
    "persisted": "now persistent: kept (stopped) when its session ends",
    "unchanged": "unchanged",
}


def outcome_text(outcome: Outcome) -> str:
    if outcome.failed:
        head = f"{outcome.container}: FAILED: {outcome.error}"
    else:
        saved = "session saved, " if outcome.saved and outcome.session_id else ""
        head = f"{outcome.container}: {saved}{WHAT.get(outcome.action, outcome.action)}"
    return "\n".join([head, *(f"  note: {note}" for note in outcome.notes)])
