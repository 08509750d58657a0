"""Which leftovers a build removes (stale containers, orphan images) and which versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from coi.images.retention import removable
from coi.images.stale import (
    BUILD_PROPERTY,
    Locks,
    LockState,
    build_lock,
    is_stale,
    lock_state,
    orphan_images,
    stale_builds,
)
from coi.incus.images import Image
from coi.incus.instances import Instance
from coi.state import file_lock

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def instance(name: str, age: timedelta = timedelta(minutes=1)) -> Instance:
    return Instance(name=name, status="Running", type="container", ephemeral=False,
                    profiles=("default",), config={}, devices={}, expanded_config={},
                    expanded_devices={}, created_at=(NOW - age).isoformat())


def image(fingerprint: str, *aliases: str, age: timedelta = timedelta(hours=1),
          **properties: str) -> Image:
    stamp = (NOW - age).isoformat()
    return Image(fingerprint=fingerprint, aliases=aliases, properties=dict(properties),
                 created_at=stamp, uploaded_at=stamp, size=1, architecture="x86_64",
                 public=False, type="container")


def test_lock_state(tmp_path: Path) -> None:
    path = tmp_path / "coi-build-1.lock"
    assert lock_state(path) is LockState.ABSENT
    with file_lock(path, timeout=0):
        assert lock_state(path) is LockState.HELD
    assert lock_state(path) is LockState.FREE


def test_build_lock_removes_its_file(tmp_path: Path) -> None:
    locks = Locks(tmp_path)
    with build_lock(locks, "coi-build-1"):
        assert locks.state("coi-build-1") is LockState.HELD
    assert not locks.build("coi-build-1").exists()


def test_a_held_lock_means_a_live_build_however_old() -> None:
    assert not is_stale(instance("coi-build-1", timedelta(days=3)), LockState.HELD, NOW)


def test_a_free_lock_means_a_dead_build_however_young() -> None:
    assert is_stale(instance("coi-build-1", timedelta(seconds=1)), LockState.FREE, NOW)


def test_without_a_lock_file_only_old_containers_go() -> None:
    assert not is_stale(instance("coi-build-1", timedelta(hours=1)), LockState.ABSENT, NOW)
    assert is_stale(instance("coi-build-1", timedelta(hours=7)), LockState.ABSENT, NOW)


def test_other_containers_are_never_stale() -> None:
    assert not is_stale(instance("coi-abc-1", timedelta(days=9)), LockState.FREE, NOW)


def test_stale_builds_picks_by_lock() -> None:
    found = [instance("coi-build-a"), instance("coi-build-b"), instance("coi-build-c")]
    states = {"coi-build-a": LockState.HELD, "coi-build-b": LockState.FREE,
              "coi-build-c": LockState.ABSENT}
    assert stale_builds(found, states.__getitem__, NOW) == ["coi-build-b"]


def test_orphans_are_unnamed_images_of_builds_no_longer_at_work() -> None:
    found = [
        image("f1", **{BUILD_PROPERTY: "coi-build-dead"}),
        image("f2", **{BUILD_PROPERTY: "coi-build-live"}),
        image("f3", "coi-20260101-000000", **{BUILD_PROPERTY: "coi-build-dead"}),
        image("f4"),
        image("f5", age=timedelta(minutes=2), **{BUILD_PROPERTY: "coi-build-dead"}),
    ]
    assert orphan_images(found, {"coi-build-live"}, NOW) == ["f1"]


def test_retention_keeps_the_newest_and_the_current() -> None:
    found = [
        image("new", "coi", "coi-20260301-000000"),
        image("prev", "coi-20260201-000000"),
        image("old", "coi-20260101-000000"),
        image("older", "coi-20251201-000000"),
        image("other", "coi-rust-20250101-000000"),
    ]
    assert [i.fingerprint for i in removable("coi", found, keep=2)] == ["old", "older"]
    assert [i.fingerprint for i in removable("coi", found, keep=1)] == ["prev", "old", "older"]


def test_retention_spares_images_with_other_names() -> None:
    found = [
        image("new", "coi-20260301-000000"),
        image("rolled-back", "coi", "coi-20260101-000000"),
        image("pinned", "coi-20251201-000000", "my-pin"),
        image("old", "coi-20251101-000000"),
    ]
    assert [i.fingerprint for i in removable("coi", found, keep=1)] == ["old"]
