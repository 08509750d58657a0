"""Storage pool sizing and driver choice."""

from __future__ import annotations

import pytest

from coi.errors import SetupError, UsageError
from coi.host import storage

GIB = 1024**3


@pytest.mark.parametrize(("text", "size"), [
    ("30GiB", 30 * GIB), ("30G", 30 * GIB), ("50GB", 50 * 1000**3), ("512MiB", 512 * 1024**2),
    (" 2 TiB ", 2 * 1024**4), ("1.5GiB", int(1.5 * GIB)), ("1024", 1024),
])
def test_parse_size(text: str, size: int) -> None:
    assert storage.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GiB", "30 parsecs", "-1GiB", "thirty"])
def test_parse_size_rejects_nonsense(text: str) -> None:
    with pytest.raises(UsageError):
        storage.parse_size(text)


def test_format_size_uses_whole_binary_units() -> None:
    assert storage.format_size(30 * GIB) == "30GiB"
    assert storage.format_size(1536 * 1024**2) == "1536MiB"
    assert storage.format_size(2 * 1024**4) == "2TiB"


def test_fit_size_keeps_the_request_when_there_is_room() -> None:
    assert storage.fit_size(30 * GIB, 100 * GIB) == 30 * GIB


def test_fit_size_caps_to_a_share_of_free_space() -> None:
    assert storage.fit_size(30 * GIB, 10 * GIB) == 8 * GIB


def test_fit_size_refuses_a_useless_pool() -> None:
    with pytest.raises(SetupError) as err:
        storage.fit_size(30 * GIB, 2 * GIB)
    assert "--storage dir" in str(err.value)


def test_auto_prefers_btrfs_and_falls_back_to_dir() -> None:
    assert storage.choose_driver("auto", ["btrfs", "dir"]) == "btrfs"
    assert storage.choose_driver("auto", ["dir"]) == "dir"
    assert storage.choose_driver("dir", ["btrfs", "dir"]) == "dir"


def test_an_explicit_unsupported_driver_fails_with_a_hint() -> None:
    with pytest.raises(SetupError) as err:
        storage.choose_driver("btrfs", ["dir"])
    assert "--storage dir" in str(err.value)


def test_supported_drivers_ignore_remote_ones() -> None:
    info = {"environment": {"storage_supported_drivers": [
        {"Name": "btrfs", "Remote": False}, {"Name": "ceph", "Remote": True}]}}
    assert storage.supported_drivers(info) == ["btrfs"]


def test_pool_request_has_a_size_only_for_loop_backed_drivers() -> None:
    assert storage.pool_request("p", "btrfs", 30 * GIB)["config"] == {"size": "30GiB"}
    assert storage.pool_request("p", "dir", 0)["config"] == {}


def test_copy_on_write_drivers() -> None:
    assert storage.is_cow("btrfs") and storage.is_cow("zfs") and storage.is_cow("lvm")
    assert not storage.is_cow("dir")
