"""Images against the real daemon: import from files, publish, aliases, delete."""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from coi.errors import IncusConflict, IncusNotFound
from coi.incus import images, instances, snapshots
from coi.incus.client import Client


def alias_name() -> str:
    return f"coi-test-{uuid.uuid4().hex[:8]}"


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def metadata_tar(path: Path, description: str) -> Path:
    yaml = f"architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  " \
           f"description: {description}\n  os: test\n"
    with tarfile.open(path, "w") as tar:
        add(tar, "metadata.yaml", yaml.encode())
    return path


def rootfs_tar(path: Path, marker: str) -> Path:
    with tarfile.open(path, "w") as tar:
        add(tar, "etc/coi-marker", marker.encode())
    return path


def test_import_split_image(incus: Client, tmp_path: Path, cleanup_images: list[str]) -> None:
    alias = alias_name()
    meta = metadata_tar(tmp_path / "meta.tar", "coi split test")
    rootfs = rootfs_tar(tmp_path / "rootfs.tar", uuid.uuid4().hex)
    fingerprint = images.import_image(incus, meta, rootfs, [alias], {"coi.test": "yes"})
    cleanup_images.append(fingerprint)
    assert fingerprint == hashlib.sha256(meta.read_bytes() + rootfs.read_bytes()).hexdigest()
    image = images.get_image(incus, alias)
    assert image.fingerprint == fingerprint
    assert image.aliases == (alias,)
    assert image.properties["coi.test"] == "yes"
    assert image.description == "coi split test"
    assert image.created_at.startswith("2023-11-14")
    assert images.get_image(incus, fingerprint[:12]).fingerprint == fingerprint
    assert fingerprint in [i.fingerprint for i in images.list_images(incus)]


def test_properties_on_metadata_without_properties_table(
    incus: Client, tmp_path: Path, cleanup_images: list[str]
) -> None:
    # Incus 6.0.4 crashes on X-Incus-properties for such an image; ours must not send it.
    meta = tmp_path / "meta.tar"
    with tarfile.open(meta, "w") as tar:
        add(tar, "metadata.yaml", b"architecture: x86_64\ncreation_date: 1700000000\n")
    rootfs = rootfs_tar(tmp_path / "rootfs.tar", uuid.uuid4().hex)
    fingerprint = images.import_image(incus, meta, rootfs, [], {"coi.recipe": "abc"})
    cleanup_images.append(fingerprint)
    assert images.get_image(incus, fingerprint).properties["coi.recipe"] == "abc"
    assert incus.server_info()["api_status"] == "stable"  # the daemon is still there


def test_reimport_moves_aliases_and_is_not_an_error(
    incus: Client, tmp_path: Path, cleanup_images: list[str]
) -> None:
    alias = alias_name()
    meta = metadata_tar(tmp_path / "meta.tar", "coi reimport test")
    first = images.import_image(incus, meta, rootfs_tar(tmp_path / "r1.tar", "one"), [alias])
    cleanup_images.append(first)
    second = images.import_image(incus, meta, rootfs_tar(tmp_path / "r2.tar", "two"), [alias])
    cleanup_images.append(second)
    assert images.alias_target(incus, alias) == second
    again = images.import_image(incus, meta, tmp_path / "r2.tar", [alias, alias + "-b"])
    assert again == second
    assert sorted(images.get_image(incus, second).aliases) == [alias, alias + "-b"]


def test_import_unified_image(incus: Client, tmp_path: Path, cleanup_images: list[str]) -> None:
    unified = tmp_path / "unified.tar"
    yaml = b"architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: test\n"
    with tarfile.open(unified, "w") as tar:
        add(tar, "metadata.yaml", yaml)
        add(tar, "rootfs/etc/coi-marker", uuid.uuid4().hex.encode())
    fingerprint = images.import_image(incus, unified, None, [], public=True)
    cleanup_images.append(fingerprint)
    assert fingerprint == hashlib.sha256(unified.read_bytes()).hexdigest()
    assert images.get_image(incus, fingerprint).public


def test_alias_lifecycle(incus: Client, tmp_path: Path, cleanup_images: list[str]) -> None:
    alias, renamed = alias_name(), alias_name()
    meta = metadata_tar(tmp_path / "meta.tar", "coi alias test")
    fingerprint = images.import_image(incus, meta, rootfs_tar(tmp_path / "r.tar", alias), [])
    cleanup_images.append(fingerprint)
    images.create_alias(incus, alias, fingerprint, "first")
    with pytest.raises(IncusConflict):
        images.create_alias(incus, alias, fingerprint)
    images.rename_alias(incus, alias, renamed)
    with pytest.raises(IncusNotFound):
        images.alias_target(incus, alias)
    assert images.alias_target(incus, renamed) == fingerprint
    images.delete_alias(incus, renamed)
    with pytest.raises(IncusNotFound):
        images.delete_alias(incus, renamed)
    images.delete_image(incus, fingerprint)
    with pytest.raises(IncusNotFound):
        images.get_image(incus, fingerprint)


def test_publish_snapshot_uncompressed(
    incus: Client, base_image: str, new_name: Callable[[], str], cleanup_images: list[str]
) -> None:
    name, alias = new_name(), alias_name()
    instances.create(incus, name, image=base_image)
    snapshots.create(incus, name, "base")
    fingerprint = images.publish(incus, name, snapshot="base", aliases=[alias],
                                 properties={"description": "coi publish test"},
                                 compression="none")
    cleanup_images.append(fingerprint)
    image = images.get_image(incus, alias)
    assert image.fingerprint == fingerprint
    assert image.properties["description"] == "coi publish test"
    instances.create(incus, new_name(), image=alias)  # the new image is usable
    images.delete_image(incus, fingerprint)
    with pytest.raises(IncusNotFound):
        images.get_image(incus, alias)


def test_missing_image(incus: Client) -> None:
    with pytest.raises(IncusNotFound):
        images.get_image(incus, "coi-test-no-such-image")
