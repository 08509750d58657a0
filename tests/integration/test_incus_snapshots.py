"""Snapshots against the real daemon: create, list, get, restore, delete, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coi.errors import IncusConflict, IncusNotFound
from coi.incus import files, instances, snapshots
from coi.incus.client import Client


def test_snapshot_restore_and_delete(
    incus: Client, base_image: str, new_name: Callable[[], str]
) -> None:
    name = new_name()
    instances.create(incus, name, image=base_image, start=True)
    files.write_file(incus, name, "/root/state.txt", b"before")
    snapshots.create(incus, name, "clean")
    files.write_file(incus, name, "/root/state.txt", b"after")
    snapshots.create(incus, name, "dirty")

    listed = snapshots.list_snapshots(incus, name)
    assert [s.name for s in listed] == ["clean", "dirty"]
    assert not listed[0].stateful and listed[0].expires_at == ""
    assert snapshots.get(incus, name, "dirty").created_at >= listed[0].created_at
    assert instances.get(incus, name, with_state=True).snapshots == ("clean", "dirty")

    snapshots.restore(incus, name, "clean")
    assert files.read_file(incus, name, "/root/state.txt") == b"before"

    snapshots.rename(incus, name, "dirty", "old")
    snapshots.delete(incus, name, "old")
    assert [s.name for s in snapshots.list_snapshots(incus, name)] == ["clean"]


def test_snapshot_errors(incus: Client, base_image: str, new_name: Callable[[], str]) -> None:
    name = new_name()
    instances.create(incus, name, image=base_image)
    snapshots.create(incus, name, "one")
    with pytest.raises(IncusConflict):
        snapshots.create(incus, name, "one")
    with pytest.raises(IncusNotFound):
        snapshots.get(incus, name, "missing")
    with pytest.raises(IncusNotFound):
        snapshots.restore(incus, name, "missing")
    with pytest.raises(IncusNotFound):
        snapshots.delete(incus, name, "missing")
    with pytest.raises(IncusNotFound):
        snapshots.list_snapshots(incus, "coi-test-does-not-exist")
