"""Files in an instance: read, write, push and pull single files, directories, symlinks.

Ownership and mode travel in X-Incus-uid/gid/mode/type headers. Symlinks stay symlinks
both ways: a container's link is never followed on the host. File bodies stream in
1 MiB pieces. Recursive transfers live in `coi.incus.filetree`.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from coi.errors import CoiError, IncusError, NotFound
from coi.incus import hostfs
from coi.incus.client import Client, error_for, quote
from coi.incus.transport import BLOCK_SIZE

FILE, DIRECTORY, SYMLINK = "file", "directory", "symlink"


@dataclass(frozen=True)
class FileInfo:
    """What the daemon says about a path. `target` is set for symlinks (as an absolute
    path inside the container: Incus resolves relative link targets), `entries` for
    directories."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    target: str = ""
    entries: tuple[str, ...] = ()


def info_from_headers(path: str, headers: Mapping[str, str]) -> FileInfo:
    lower = {k.lower(): v for k, v in headers.items()}
    return FileInfo(
        path=path,
        type=lower.get("x-incus-type", FILE),
        mode=int(lower.get("x-incus-mode", "0644"), 8),
        uid=int(lower.get("x-incus-uid", "0")),
        gid=int(lower.get("x-incus-gid", "0")),
    )


def push_headers(
    kind: str, mode: int, uid: int, gid: int, *, append: bool = False, length: int | None = None
) -> dict[str, str]:
    headers = {
        # A leading 0: the daemon reads the mode with base prefixes, so "4751" is decimal.
        "X-Incus-type": kind, "X-Incus-mode": f"0{mode & 0o7777:o}",
        "X-Incus-uid": str(uid), "X-Incus-gid": str(gid),
        "X-Incus-write": "append" if append else "overwrite",
        "Content-Type": "application/octet-stream",
    }
    if length is not None:
        headers["Content-Length"] = str(length)
    return headers


def _files(name: str) -> str:
    return f"/instances/{quote(name)}/files"


def _post(client: Client, name: str, path: str, body: bytes | Iterator[bytes],
          headers: Mapping[str, str]) -> None:
    resp = client.raw("POST", _files(name), body, headers=headers, params={"path": path})
    client.decode(resp, context=f"write {path} in {name}")


# -- reading ------------------------------------------------------------------------------


def stat(client: Client, name: str, path: str) -> FileInfo:
    """Type, mode and owner of a path (HEAD: no content is sent). Raises NotFound."""
    resp = client.raw("HEAD", _files(name), params={"path": path})
    resp.read()
    if resp.status != 200:  # a HEAD answer has no body to carry the daemon's words
        raise error_for(resp.status, resp.reason, f"{path} in {name}")
    return info_from_headers(path, dict(resp.getheaders()))


def open_path(client: Client, name: str, path: str) -> tuple[FileInfo, Iterator[bytes]]:
    """Fetch a path: its info, and for a file its content as a chunk iterator that must
    be consumed before the next request. Directories come with their entries, symlinks
    with their target; their iterator is empty."""
    resp = client.raw("GET", _files(name), params={"path": path})
    if resp.status != 200:
        client.decode(resp, context=f"{path} in {name}")  # raises the typed error
    info = info_from_headers(path, dict(resp.getheaders()))
    if info.type == DIRECTORY:
        entries = client.decode(resp, context=f"{path} in {name}").metadata or []
        return replace(info, entries=tuple(str(e) for e in entries)), iter(())
    if info.type == SYMLINK:
        return replace(info, target=resp.read().decode(errors="surrogateescape")), iter(())
    return info, _chunks(resp)


def _chunks(resp: http.client.HTTPResponse) -> Iterator[bytes]:
    while chunk := resp.read(BLOCK_SIZE):
        yield chunk


def read_file(client: Client, name: str, path: str) -> bytes:
    """A small file's content (a symlink yields its target, a directory an error)."""
    info, chunks = open_path(client, name, path)
    if info.type == DIRECTORY:
        raise CoiError(f"{path} in {name} is a directory")
    return info.target.encode() if info.type == SYMLINK else b"".join(chunks)


def list_dir(client: Client, name: str, path: str) -> list[str]:
    info, _ = open_path(client, name, path)
    if info.type != DIRECTORY:
        raise CoiError(f"{path} in {name} is not a directory")
    return list(info.entries)


# -- writing ------------------------------------------------------------------------------


def write_file(
    client: Client, name: str, path: str, data: bytes, *,
    mode: int = 0o644, uid: int = 0, gid: int = 0, append: bool = False,
) -> None:
    """Create or replace (or with `append`, extend) a file from bytes.

    Mode and owner apply when the file is created: the daemon rewrites an existing file
    in place, which keeps its own (as `>` in a shell does). The daemon never sets the
    setuid or setgid bit."""
    _post(client, name, path, data, push_headers(FILE, mode, uid, gid, append=append))


def mkdir(
    client: Client, name: str, path: str, *,
    mode: int = 0o755, uid: int = 0, gid: int = 0, parents: bool = False,
) -> None:
    """Create a directory (an existing one is left as it is)."""
    steps = [path]
    if parents:
        parts = [p for p in path.split("/") if p]
        steps = ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
    for step in steps:
        _post(client, name, step, b"", push_headers(DIRECTORY, mode, uid, gid))


def symlink(client: Client, name: str, path: str, target: str, *,
            uid: int = 0, gid: int = 0) -> None:
    """Create or replace the symlink `path` -> `target` inside the instance."""
    headers = push_headers(SYMLINK, 0o777, uid, gid)
    try:
        _post(client, name, path, target.encode(), headers)
    except IncusError:
        # The daemon will not replace an existing entry with a link: remove it first.
        delete(client, name, path, missing_ok=True)
        _post(client, name, path, target.encode(), headers)


def delete(client: Client, name: str, path: str, *, missing_ok: bool = False) -> None:
    """Delete a file, symlink or empty directory."""
    try:
        client.request("DELETE", _files(name), params={"path": path},
                       context=f"delete {path} in {name}")
    except NotFound:
        if not missing_ok:
            raise


def push_file(
    client: Client, name: str, src: Path, dest: str, *,
    mode: int | None = None, uid: int | None = None, gid: int | None = None,
) -> None:
    """Copy a host file (streamed) or symlink (as a link) into the instance. Mode, uid
    and gid default to the host file's own, as `incus file push` does; like
    `write_file`, they apply only when the file is new."""
    with hostfs.host_errors(f"read {src}"):
        fd = hostfs.open_source(None, str(src))
        if fd is None:
            link = src.lstat()
            symlink(client, name, dest, os.readlink(src),
                    uid=_pick(uid, link.st_uid), gid=_pick(gid, link.st_gid))
            return
        try:
            push_stream(client, name, fd, dest, mode=mode, uid=uid, gid=gid)
        finally:
            os.close(fd)


def push_stream(
    client: Client, name: str, fd: int, dest: str, *,
    mode: int | None = None, uid: int | None = None, gid: int | None = None,
) -> None:
    """Stream an open regular file to `dest`, with its own mode and owner by default."""
    info = os.fstat(fd)
    headers = push_headers(FILE, _pick(mode, info.st_mode), _pick(uid, info.st_uid),
                           _pick(gid, info.st_gid), length=info.st_size)
    _post(client, name, dest, hostfs.read_chunks(fd, info.st_size), headers)


def _pick(value: int | None, default: int) -> int:
    return default if value is None else value


def pull_file(client: Client, name: str, src: str, dest: Path, *,
              preserve_owner: bool = False) -> FileInfo:
    """Copy a file or symlink out of the instance to `dest` (replacing what is there,
    never writing through a symlink). Setuid and setgid bits are dropped on the host;
    `preserve_owner` (root only) gives the file the container's numeric uid and gid."""
    info, chunks = open_path(client, name, src)
    save(info, chunks, dest, preserve_owner=preserve_owner)
    return info


def save(info: FileInfo, chunks: Iterator[bytes], dest: Path, *,
         preserve_owner: bool = False) -> None:
    """Write what `open_path` returned for a file or symlink to the host path `dest`."""
    if info.type == DIRECTORY:
        raise CoiError(f"{info.path} is a directory", hint="pull it recursively")
    owner = (info.uid, info.gid) if preserve_owner else None
    with hostfs.host_errors(f"write {dest}"):
        parent = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if info.type == SYMLINK:
                hostfs.place_symlink(parent, dest.name, info.target, owner)
            else:
                hostfs.place_file(parent, dest.name, chunks, info.mode, owner)
        finally:
            os.close(parent)
