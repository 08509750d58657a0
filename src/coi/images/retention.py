"""How many versions of an image a build keeps, and which logs.

A build keeps the newest `keep` versions of its alias (the new one and, by default, the
one before it, to go back to). Only images that carry nothing but version aliases of
that name go: an image someone also named otherwise is left alone.
"""

from __future__ import annotations

import contextlib

from coi.errors import IncusError
from coi.images.versions import to_clean_up, version_time
from coi.incus import images
from coi.incus.client import Client
from coi.incus.images import Image


def removable(alias: str, found: list[Image], keep: int) -> list[Image]:
    """The images holding versions of `alias` beyond the `keep` newest, except the one
    `alias` points at and any image with another kind of alias."""
    owner = {a: image for image in found for a in image.aliases}
    current = owner.get(alias)
    doomed: dict[str, Image] = {}
    for version in to_clean_up(alias, owner, keep):
        image = owner[version]
        only_versions = all(version_time(alias, a) is not None for a in image.aliases)
        if image is not current and only_versions:
            doomed[image.fingerprint] = image
    return list(doomed.values())


def prune_versions(client: Client, alias: str, keep: int) -> list[str]:
    """Delete old versions of `alias`; say what went."""
    notes = []
    for image in removable(alias, images.list_images(client), keep):
        with contextlib.suppress(IncusError):
            images.delete_image(client, image.fingerprint)
            notes.append(f"removed the old version {', '.join(image.aliases)}")
    return notes
