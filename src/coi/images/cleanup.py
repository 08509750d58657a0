"""`coi image cleanup`: keep the newest N versions of a prefix, delete the older ones.

Deleting an image deletes every alias on it, so an old version's image goes only when
all of its aliases are old versions: one that a plain alias (`coi`), a kept version,
the configured default or any other name still points at is spared.

JSON shape (`coi image cleanup --json`), stable:

    {"prefix": "coi", "dry_run": false,
     "kept": ["coi-20250301-120000", …],                        # newest first
     "deleted": [{"fingerprint": "…", "aliases": ["coi-20250101-120000"]}],
     "spared": [{"alias": "coi-20250201-120000", "fingerprint": "…",
                 "held_by": ["coi"]}]}

With `dry_run` true, `deleted` lists what a real run would delete.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from coi.errors import NotFound, UsageError
from coi.images.versions import to_clean_up, versions
from coi.incus.client import Client
from coi.incus.images import Image, delete_image, get_image, list_images


@dataclass(frozen=True)
class Doomed:
    """An image to delete, with all of its aliases (each an old version)."""

    fingerprint: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Spared:
    """An old version kept because other aliases (`held_by`) point at its image."""

    alias: str
    fingerprint: str
    held_by: tuple[str, ...]


@dataclass(frozen=True)
class Cleanup:
    prefix: str
    kept: tuple[str, ...]
    deleted: tuple[Doomed, ...]
    spared: tuple[Spared, ...]
    dry_run: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "dry_run": self.dry_run,
            "kept": list(self.kept),
            "deleted": [{"fingerprint": d.fingerprint, "aliases": list(d.aliases)}
                        for d in self.deleted],
            "spared": [{"alias": s.alias, "fingerprint": s.fingerprint,
                        "held_by": list(s.held_by)} for s in self.spared],
        }


def normalize_prefix(prefix: str) -> str:
    """`myproject-` and `myproject` name the same versions (`myproject-YYYYMMDD-HHMMSS`)."""
    name = prefix.strip().removesuffix("-")
    if not name:
        raise UsageError("the prefix must not be empty",
                         hint="e.g. `coi image cleanup coi --keep 3`")
    return name


def plan(prefix: str, images: Iterable[Image], keep: int,
         protected: Iterable[str] = ()) -> Cleanup:
    """What a cleanup of `prefix` keeping `keep` versions would do; touches nothing."""
    by_alias = {alias: image for image in images for alias in image.aliases}
    stale = to_clean_up(prefix, by_alias, keep)
    stale_set, guarded = set(stale), set(protected)
    doomed: dict[str, Doomed] = {}
    spared: list[Spared] = []
    for alias in stale:
        image = by_alias[alias]
        holders = tuple(sorted(a for a in image.aliases if a not in stale_set or a in guarded))
        if holders:
            spared.append(Spared(alias, image.fingerprint, holders))
        elif image.fingerprint not in doomed:
            doomed[image.fingerprint] = Doomed(image.fingerprint, tuple(sorted(image.aliases)))
    kept = tuple(versions(prefix, by_alias)[:keep])
    return Cleanup(prefix, kept, tuple(doomed.values()), tuple(spared))


def clean_up(client: Client, prefix: str, keep: int, *, protected: Iterable[str] = (),
             dry_run: bool = False) -> Cleanup:
    """Delete the versions of `prefix` beyond the `keep` newest (see `plan`)."""
    guarded = frozenset(protected)
    result = plan(normalize_prefix(prefix), list_images(client), keep, guarded)
    if dry_run:
        return result
    deleted: list[Doomed] = []
    spared = list(result.spared)
    for doomed in result.deleted:
        late = _late_holders(client, doomed, guarded)
        if late is None:
            deleted.append(doomed)
        else:
            spared += [Spared(alias, doomed.fingerprint, late) for alias in doomed.aliases]
    return replace(result, deleted=tuple(deleted), spared=tuple(spared), dry_run=False)


def _late_holders(
    client: Client, doomed: Doomed, guarded: frozenset[str]
) -> tuple[str, ...] | None:
    """Delete the image unless an alias moved onto it since the plan (a build may have
    just pointed `coi` at it): then return those aliases and leave it alone."""
    try:
        now = get_image(client, doomed.fingerprint)
    except NotFound:
        return None  # someone else deleted it meanwhile: the outcome is the same
    holders = tuple(sorted(a for a in now.aliases if a not in doomed.aliases or a in guarded))
    if holders:
        return holders
    with contextlib.suppress(NotFound):
        delete_image(client, doomed.fingerprint)
    return None
