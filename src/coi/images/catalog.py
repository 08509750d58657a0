"""coi's view of the image store: which images are coi's, what they are, which must stay.

Everything here returns data (the daemon's `Image` records, or the JSON-ready dicts
below); `coi.cli.image` draws it.

The JSON shape of one image (`coi image list --json` prints a list of these), stable:

    {"aliases": ["coi", "coi-20250101-120000"],   # every alias, sorted by name
     "fingerprint": "a1b2…",                       # full SHA-256
     "size_bytes": 268435456,
     "created_at": "2025-01-01T12:00:00Z",         # as the daemon reports it (RFC 3339)
     "description": "…",                           # the `description` property, or ""
     "properties": {"description": "…", "os": "debian", …}}

`coi image info --json` prints one such object plus `architecture`, `uploaded_at`,
`type`, `public`, `prefix` (the versioned family it belongs to, or null) and
`versions`: `[{"alias", "fingerprint", "created_at", "current"}]`, newest first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from coi.errors import AlreadyExists, IncusNotFound, NotFound, UsageError
from coi.images.versions import STAMP_PATTERN, version_time, versions
from coi.incus.client import Client
from coi.incus.images import Image, delete_image, get_image, list_images

BASE_ALIAS = "coi"
COI_PREFIX = "coi-"
LIST_HINT = "`coi image list --all` shows every local image"
_VERSIONED = re.compile(r"(.+)-" + STAMP_PATTERN)


# -- naming ---------------------------------------------------------------------------


def version_prefix(alias: str) -> str | None:
    """`coi` for `coi-20250101-120000`; None if `alias` is not a timestamped version."""
    match = _VERSIONED.fullmatch(alias)
    if match is None or version_time(match.group(1), alias) is None:
        return None
    return match.group(1)


def version_of(alias: str, image: Image) -> str | None:
    """The newest `<alias>-YYYYMMDD-HHMMSS` among the image's own aliases: which
    version the plain alias points at."""
    found = versions(alias, image.aliases)
    return found[0] if found else None


def family(image: Image, name: str | None = None) -> str | None:
    """The version prefix an image belongs to: from `name` (what the user typed) if it
    is one of its aliases, else from a plain alias with versions, else from a version."""
    if name is not None and name in image.aliases:
        return version_prefix(name) or name
    aliases = sorted(image.aliases)
    plain = [a for a in aliases if version_prefix(a) is None]
    with_versions = [a for a in plain if versions(a, aliases)]
    stamped = [p for a in aliases if (p := version_prefix(a)) is not None]
    return next(iter(with_versions + stamped + plain), None)


def is_coi_alias(alias: str, default: str = BASE_ALIAS) -> bool:
    return alias in (BASE_ALIAS, default) or alias.startswith(COI_PREFIX)


# -- listing ----------------------------------------------------------------------------


def _sort_key(image: Image) -> tuple[int, str, str]:
    aliases = sorted(image.aliases)
    return (0 if aliases else 1, aliases[0] if aliases else "", image.created_at)


def select(
    images: Iterable[Image],
    *,
    prefix: str | None = None,
    everything: bool = False,
    default: str = BASE_ALIAS,
) -> list[Image]:
    """The images a listing shows, sorted by first alias (unaliased ones last).

    With `prefix`: images with an alias starting with it. Otherwise coi's own images
    (`coi`, `coi-*` and the configured default), or every image with `everything`.
    """
    if prefix:
        chosen = [i for i in images if any(a.startswith(prefix) for a in i.aliases)]
    elif everything:
        chosen = list(images)
    else:
        chosen = [i for i in images if any(is_coi_alias(a, default) for a in i.aliases)]
    return sorted(chosen, key=_sort_key)


def target_of(alias: str, images: Iterable[Image]) -> Image | None:
    """The image `alias` points at, if it is a local alias."""
    return next((image for image in images if alias in image.aliases), None)


@dataclass(frozen=True)
class Listing:
    """What `coi image list` shows: the default alias's image (None: not built) and
    the selected images."""

    default: str
    default_image: Image | None
    images: list[Image]


def listing(client: Client, *, prefix: str | None = None, everything: bool = False,
            default: str = BASE_ALIAS) -> Listing:
    found = list_images(client)
    chosen = select(found, prefix=prefix, everything=everything, default=default)
    return Listing(default, target_of(default, found), chosen)


# -- lookup and delete ------------------------------------------------------------------


def find(client: Client, ref: str) -> Image:
    """An image by alias or (a unique prefix of its) fingerprint; NotFound says so."""
    if not ref.strip():
        raise UsageError("an image name must not be empty")
    try:
        return get_image(client, ref)
    except IncusNotFound as exc:
        raise IncusNotFound(f"no image {ref!r}", hint=LIST_HINT, status_code=404) from exc


def exists(client: Client, ref: str) -> bool:
    try:
        find(client, ref)
    except NotFound:
        return False
    return True


def protected_aliases(default: str) -> frozenset[str]:
    """Aliases whose image sessions start from: deleting it breaks the next session."""
    return frozenset({BASE_ALIAS, default})


def check_deletable(image: Image, protected: Iterable[str]) -> None:
    held = sorted(set(image.aliases) & set(protected))
    if held:
        raise AlreadyExists(
            f"image {image.fingerprint[:12]} is the default image (alias {', '.join(held)})",
            hint="pass --force to delete it anyway")


def delete(client: Client, ref: str, *, protected: Iterable[str] = (),
           force: bool = False) -> Image:
    """Delete an image (and so all its aliases); refuse a protected one unless `force`.
    Returns the image as it was."""
    image = find(client, ref)
    if not force:
        check_deletable(image, protected)
    delete_image(client, image.fingerprint)
    return image


# -- info ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    alias: str
    image: Image


@dataclass(frozen=True)
class Info:
    """One image, the version family it belongs to and that family's versions."""

    image: Image
    prefix: str | None
    versions: list[Version]


def info(client: Client, ref: str) -> Info:
    image = find(client, ref)
    prefix = family(image, ref)
    if prefix is None:
        return Info(image, None, [])
    found = list_images(client)
    by_alias = {alias: i for i in found for alias in i.aliases}
    names = versions(prefix, by_alias)
    return Info(image, prefix, [Version(a, by_alias[a]) for a in names])


# -- JSON shapes ----------------------------------------------------------------------


def image_record(image: Image) -> dict[str, Any]:
    return {
        "aliases": sorted(image.aliases),
        "fingerprint": image.fingerprint,
        "size_bytes": image.size,
        "created_at": image.created_at,
        "description": image.description,
        "properties": dict(sorted(image.properties.items())),
    }


def image_records(images: Sequence[Image]) -> list[dict[str, Any]]:
    return [image_record(image) for image in images]


def info_record(data: Info) -> dict[str, Any]:
    image = data.image
    return image_record(image) | {
        "architecture": image.architecture,
        "uploaded_at": image.uploaded_at,
        "type": image.type,
        "public": image.public,
        "prefix": data.prefix,
        "versions": [{"alias": v.alias, "fingerprint": v.image.fingerprint,
                      "created_at": v.image.created_at,
                      "current": v.image.fingerprint == image.fingerprint}
                     for v in data.versions],
    }
