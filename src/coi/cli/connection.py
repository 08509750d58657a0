"""The Incus client a command uses: the configured remote and project."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coi.incus.client import Client


@contextlib.contextmanager
def incus_client() -> Iterator[Client]:
    """A client for `[incus] remote` and `project` (default: the incus CLI's own)."""
    from coi.config import load_config
    from coi.incus.remotes import connect

    loaded = load_config()
    settings = loaded.config.incus
    origin = loaded.origin("incus.project")
    project = None if origin is None or origin.kind == "default" else settings.project
    with connect(settings.remote or None, project) as client:
        yield client
