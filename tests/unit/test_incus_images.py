"""Image uploads are valid multipart bodies, streamed, with a known length and digest."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
from pathlib import Path

import pytest

from coi.incus.images import Image, import_headers, split_upload, unified_upload


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Path, Path]:
    meta = tmp_path / "meta.tar"
    rootfs = tmp_path / "rootfs.tar"
    meta.write_bytes(b"M" * 1000)
    rootfs.write_bytes(bytes(range(256)) * 9000)  # > 2 MiB: several chunks
    return meta, rootfs


def test_split_upload_is_multipart_with_metadata_then_rootfs(parts: tuple[Path, Path]) -> None:
    meta, rootfs = parts
    upload = split_upload(meta, rootfs, boundary="XyZ")
    chunks = list(upload.chunks)
    body = b"".join(chunks)
    assert len(body) == upload.length
    assert max(len(c) for c in chunks) <= 1 << 20  # streamed, never one big piece
    head = f"Content-Type: {upload.content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields = [(p.get_param("name", header="content-disposition"), p.get_payload(decode=True))
              for p in message.iter_parts()]
    assert fields == [("metadata", meta.read_bytes()), ("rootfs", rootfs.read_bytes())]


def test_split_upload_digest_is_the_image_fingerprint(parts: tuple[Path, Path]) -> None:
    meta, rootfs = parts
    upload = split_upload(meta, rootfs)
    for _ in upload.chunks:
        pass
    expected = hashlib.sha256(meta.read_bytes() + rootfs.read_bytes()).hexdigest()
    assert upload.digest.hexdigest() == expected


def test_unified_upload_is_the_file_itself(parts: tuple[Path, Path]) -> None:
    _, tarball = parts
    upload = unified_upload(tarball)
    assert b"".join(upload.chunks) == tarball.read_bytes()
    assert upload.length == tarball.stat().st_size
    assert upload.content_type == "application/octet-stream"
    assert upload.digest.hexdigest() == hashlib.sha256(tarball.read_bytes()).hexdigest()


def test_import_headers_never_carry_properties(parts: tuple[Path, Path]) -> None:
    # Incus 6.0.4 panics on X-Incus-properties when metadata.yaml has no properties table.
    upload = unified_upload(parts[0])
    headers = import_headers(upload, public=True)
    assert headers["X-Incus-public"] == "true"
    assert headers["Content-Length"] == "1000"
    assert "X-Incus-properties" not in headers
    assert "X-Incus-public" not in import_headers(upload, public=False)


def test_image_from_api() -> None:
    image = Image.from_api({
        "fingerprint": "abc", "aliases": [{"name": "coi-base", "description": ""}],
        "properties": {"description": "coi base"}, "created_at": "2026-01-01T00:00:00Z",
        "size": 123, "architecture": "x86_64", "public": False, "type": "container",
    })
    assert image.aliases == ("coi-base",)
    assert image.description == "coi base"
    assert image.size == 123
