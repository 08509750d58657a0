"""Images in the daemon's store: list, look up, import from files, publish, aliases.

Uploads stream from disk in 1 MiB pieces (never whole in memory) and hash on the way,
so a re-import of an image the daemon already holds still yields its fingerprint.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coi.errors import IncusConflict, IncusError, NotFound
from coi.incus.client import Client, quote
from coi.incus.transport import BLOCK_SIZE


@dataclass(frozen=True)
class Image:
    """One image as `coi images` shows it."""

    fingerprint: str
    aliases: tuple[str, ...]
    properties: dict[str, str]
    created_at: str
    uploaded_at: str
    size: int
    architecture: str
    public: bool
    type: str

    @property
    def description(self) -> str:
        return self.properties.get("description", "")

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Image:
        return cls(
            fingerprint=str(data.get("fingerprint", "")),
            aliases=tuple(str(a.get("name", "")) for a in data.get("aliases") or []),
            properties={str(k): str(v) for k, v in (data.get("properties") or {}).items()},
            created_at=str(data.get("created_at", "")),
            uploaded_at=str(data.get("uploaded_at", "")),
            size=int(data.get("size") or 0),
            architecture=str(data.get("architecture", "")),
            public=bool(data.get("public")),
            type=str(data.get("type") or "container"),
        )


def list_images(client: Client) -> list[Image]:
    """Every image in the project, with aliases and properties, in one request."""
    items = client.get("/images", params={"recursion": "1"}, context="list images")
    return [Image.from_api(item) for item in items or []]


def get_image(client: Client, ref: str) -> Image:
    """An image by alias, or by fingerprint (or a unique prefix of one)."""
    try:
        target = alias_target(client, ref)
    except NotFound:
        target = ref
    return Image.from_api(client.get(f"/images/{quote(target)}", context=f"image {ref}"))


def _exists(client: Client, fingerprint: str) -> bool:
    try:
        client.get(f"/images/{quote(fingerprint)}")
    except NotFound:
        return False
    return True


def alias_target(client: Client, alias: str) -> str:
    """The fingerprint an alias points to. Raises IncusNotFound if there is no alias."""
    data = client.get(f"/images/aliases/{quote(alias)}", context=f"image alias {alias}")
    return str(data["target"])


# -- import -------------------------------------------------------------------------------


@dataclass
class Upload:
    """A request body streamed from files, with its length known up front."""

    chunks: Iterator[bytes]
    length: int
    content_type: str
    digest: Any = field(default_factory=hashlib.sha256)


def _file_chunks(path: Path, digest: Any) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(BLOCK_SIZE):
            digest.update(chunk)
            yield chunk


def unified_upload(tarball: Path) -> Upload:
    """A unified image (one tarball with metadata.yaml and rootfs/) sent as it is."""
    upload = Upload(iter(()), tarball.stat().st_size, "application/octet-stream")
    upload.chunks = _file_chunks(tarball, upload.digest)
    return upload


def split_upload(metadata_tar: Path, rootfs: Path, boundary: str | None = None) -> Upload:
    """A split image as multipart/form-data with the fields `metadata` and `rootfs`.

    The image fingerprint is the SHA-256 of the metadata file followed by the rootfs
    file, which is exactly what the digest sees.
    """
    boundary = boundary or secrets.token_hex(16)
    heads = [_part_head(boundary, "metadata", metadata_tar), _part_head(boundary, "rootfs", rootfs)]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + metadata_tar.stat().st_size + rootfs.stat().st_size
    upload = Upload(iter(()), length + len(tail), f"multipart/form-data; boundary={boundary}")

    def chunks() -> Iterator[bytes]:
        yield heads[0]
        yield from _file_chunks(metadata_tar, upload.digest)
        yield heads[1]
        yield from _file_chunks(rootfs, upload.digest)
        yield tail

    upload.chunks = chunks()
    return upload


def _part_head(boundary: str, name: str, path: Path) -> bytes:
    lead = "" if name == "metadata" else "\r\n"  # the CRLF before a boundary ends a part
    filename = path.name.replace('"', "")
    return (
        f"{lead}--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def import_headers(upload: Upload, public: bool) -> dict[str, str]:
    # Properties are NOT sent as X-Incus-properties: Incus 6.0.4 panics (nil map in
    # getImgPostInfo, measured here: the whole daemon dies) when the image's metadata.yaml
    # has no `properties` table. They are set with a PATCH after the upload instead.
    headers = {"Content-Type": upload.content_type, "Content-Length": str(upload.length)}
    if public:
        headers["X-Incus-public"] = "true"
    return headers


def update_properties(client: Client, fingerprint: str, properties: Mapping[str, str]) -> None:
    """Merge `properties` into an image's properties."""
    current = client.get(f"/images/{quote(fingerprint)}", context="image properties")
    merged = {**(current.get("properties") or {}), **properties}
    client.request("PATCH", f"/images/{quote(fingerprint)}", {"properties": merged},
                   context="set image properties")


def import_image(  # noqa: PLR0917 - `coi setup` calls this exact positional signature
    client: Client,
    metadata_tar: Path,
    rootfs: Path | None,
    aliases: list[str],
    properties: dict[str, str] | None = None,
    public: bool = False,
) -> str:
    """Import an image from local files and point `aliases` at it; return its fingerprint.

    `rootfs` None means `metadata_tar` is a unified tarball. Aliases that exist already
    are moved to the new image (as `incus image import --alias` does). Importing an image
    the daemon already has is not an error: its aliases are updated all the same.
    """
    upload = unified_upload(metadata_tar) if rootfs is None else split_upload(metadata_tar, rootfs)
    headers = import_headers(upload, public)
    try:
        resp = client.decode(client.raw("POST", "/images", upload.chunks, headers=headers),
                             context="import image")
        meta = client.finish(resp, context="import image")
        fingerprint = str((meta or {}).get("fingerprint") or upload.digest.hexdigest())
    except IncusError:
        # The daemon refuses bytes it holds already (a 400 whose text is the only hint);
        # the digest of everything streamed names that image, so look for it instead.
        fingerprint = upload.digest.hexdigest()
        if next(upload.chunks, None) is not None or not _exists(client, fingerprint):
            raise
    if properties:
        update_properties(client, fingerprint, properties)
    for alias in aliases:
        set_alias(client, alias, fingerprint)
    return fingerprint


# -- publish and delete -------------------------------------------------------------------


def publish(
    client: Client,
    instance: str,
    *,
    snapshot: str | None = None,
    aliases: Sequence[str] = (),
    properties: Mapping[str, str] | None = None,
    compression: str | None = None,
    public: bool = False,
    timeout: float | None = None,
) -> str:
    """Make an image from a stopped instance or from one of its snapshots.

    `compression="none"` skips compressing the tarball, which is much faster for images
    that never leave this host. Returns the new fingerprint; aliases move to it.
    """
    source = {"type": "snapshot", "name": f"{instance}/{snapshot}"} if snapshot else {
        "type": "instance", "name": instance}
    body: dict[str, Any] = {"source": source, "public": public,
                            "properties": dict(properties or {})}
    if compression:
        body["compression_algorithm"] = compression
    meta = client.sync("POST", "/images", body, timeout=timeout, context=f"publish {instance}")
    fingerprint = str(meta["fingerprint"])
    for alias in aliases:
        set_alias(client, alias, fingerprint)
    return fingerprint


def delete_image(client: Client, fingerprint: str) -> None:
    client.sync("DELETE", f"/images/{quote(fingerprint)}", context=f"delete image {fingerprint}")


# -- aliases ------------------------------------------------------------------------------


def create_alias(client: Client, alias: str, fingerprint: str, description: str = "") -> None:
    """A new alias. Raises IncusConflict if the name is taken."""
    body = {"name": alias, "target": fingerprint, "description": description}
    client.request("POST", "/images/aliases", body, context=f"create alias {alias}")


def set_alias(client: Client, alias: str, fingerprint: str, description: str = "") -> None:
    """Point `alias` at `fingerprint`, creating it or moving it from another image."""
    try:
        create_alias(client, alias, fingerprint, description)
    except IncusConflict:
        client.request("PATCH", f"/images/aliases/{quote(alias)}", {"target": fingerprint},
                       context=f"move alias {alias}")


def rename_alias(client: Client, alias: str, new_name: str) -> None:
    client.request("POST", f"/images/aliases/{quote(alias)}", {"name": new_name},
                   context=f"rename alias {alias}")


def delete_alias(client: Client, alias: str) -> None:
    client.request("DELETE", f"/images/aliases/{quote(alias)}", context=f"delete alias {alias}")
