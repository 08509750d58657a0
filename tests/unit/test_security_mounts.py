"""Extra-mount validation: host secrets, sockets, coi state and the workspace stay out."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.errors import PolicyError
from coi.security import mounts


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for rel in [".ssh", ".aws", ".config/gh", "data", "ws/.git/hooks", ".coi"]:
        (home / rel).mkdir(parents=True)
    (home / ".netrc").write_text("machine x")
    return home


def _check(home: Path, host: str, container: str = "/mnt/x") -> list[mounts.ExtraMount]:
    return mounts.validate([(host, container, False)], home=home, coi_home=home / ".coi",
                           workspace=home / "ws", protected=[".git/hooks"])


@pytest.mark.parametrize("host,why", [
    ("/", "whole home or system"), ("~", "whole home"), ("~/.ssh", "credentials"),
    ("~/.aws", "credentials"), ("~/.config", "credentials"), ("~/.netrc", "credentials"),
    ("~/.coi", "coi's own state"), ("/etc", "host configuration"),
    ("/run", "daemon sockets"), ("/var/run", "daemon sockets"), ("/var/lib/incus", "daemon"),
    ("~/ws", "contains the workspace"), ("~/ws/.git", "protected path"),
])
def test_forbidden_sources_are_refused_with_the_reason(home: Path, host: str, why: str) -> None:
    with pytest.raises(PolicyError, match=why):
        _check(home, host)


def test_a_symlink_to_a_secret_is_the_secret(home: Path) -> None:
    (home / "data" / "innocent").symlink_to(home / ".ssh")
    with pytest.raises(PolicyError, match=r"-> .*\.ssh"):
        _check(home, str(home / "data" / "innocent"))


def test_an_ordinary_directory_becomes_a_device(home: Path) -> None:
    [mount] = mounts.validate([("~/data", "/mnt/data/", True)], home=home,
                              coi_home=home / ".coi", workspace=home / "ws")
    assert mounts.devices([mount]) == {"mount-0": {
        "type": "disk", "source": str(home / "data"), "path": "/mnt/data", "readonly": "true"}}


@pytest.mark.parametrize("target", ["/", "relative", "/proc", "/sys/x", "/dev", "/workspace",
                                    "/workspace/sub"])
def test_forbidden_container_paths(home: Path, target: str) -> None:
    with pytest.raises(PolicyError):
        _check(home, "~/data", target)


def test_nested_mounts_are_refused(home: Path) -> None:
    with pytest.raises(PolicyError, match="nested"):
        mounts.validate([("~/data", "/mnt", False), ("~/data", "/mnt/a", False)], home=home,
                        coi_home=home / ".coi", workspace=home / "ws")


def test_missing_source(home: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        _check(home, "~/nope")
