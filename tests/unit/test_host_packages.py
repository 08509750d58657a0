"""Which packages setup installs, and from where."""

from __future__ import annotations

import pytest

from coi.host import packages
from coi.host.osinfo import AptSource, OsRelease
from coi.host.proc import Completed

BOOKWORM = OsRelease(id="debian", version_id="12", codename="bookworm")
TRIXIE = OsRelease(id="debian", version_id="13", codename="trixie")
NOBLE = OsRelease(id="ubuntu", version_id="24.04", codename="noble", id_like=("debian",))
MAIN = AptSource(("http://m.example/debian",), ("bookworm", "bookworm-updates"), ("main",),
                 "/etc/keys/debian.gpg")


def test_only_debian_12_needs_backports_and_only_once() -> None:
    assert packages.needs_backports(BOOKWORM, [MAIN])
    backports = AptSource(("http://m.example/debian",), ("bookworm-backports",))
    assert not packages.needs_backports(BOOKWORM, [MAIN, backports])
    assert not packages.needs_backports(TRIXIE, [])
    assert not packages.needs_backports(NOBLE, [])


def test_backports_source_reuses_the_hosts_mirror_and_keyring() -> None:
    text = packages.backports_source("http://m.example/debian",
                                     packages.keyring_of([MAIN], "http://m.example/debian"))
    assert text.splitlines() == ["Types: deb", "URIs: http://m.example/debian",
                                 "Suites: bookworm-backports", "Components: main",
                                 "Signed-By: /etc/keys/debian.gpg"]
    assert packages.keyring_of([], "http://x") == packages.DEBIAN_KEYRING


def test_install_targets_backports_on_debian_12_only() -> None:
    assert packages.apt_target(BOOKWORM) == ["-t", "bookworm-backports"]
    assert packages.apt_target(TRIXIE) == []


def test_container_only_incus_and_the_tools_are_required() -> None:
    names = {tool.package for tool in packages.TOOLS}
    assert {"incus-base", "incus-client", "nftables", "btrfs-progs", "mmdebstrap",
            "dnsmasq-base"} <= names
    assert "incus" not in names  # it would pull QEMU for VMs coi never starts


@pytest.mark.parametrize(("known", "expected"), [
    (True, ["incus-base", "incus-client", "nftables"]),
    (False, ["incus", "incus-client", "nftables"]),
])
def test_archives_without_incus_base_get_incus(monkeypatch: pytest.MonkeyPatch, known: bool,
                                               expected: list[str]) -> None:
    def fake_run(argv: list[str], **_: object) -> Completed:
        out = "Package: incus-base\n" if known else ""
        return Completed(tuple(argv), 0 if known else 100, out, 0.0)

    monkeypatch.setattr(packages, "run", fake_run)
    assert packages.resolve_names(["incus-base", "incus-client", "nftables"]) == expected


def test_missing_tools_are_found_by_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages.shutil, "which", lambda name, path=None: None)
    monkeypatch.setattr(packages, "find_incusd", lambda: "/usr/libexec/incus/incusd")
    missing = {tool.package for tool in packages.missing_tools()}
    assert "incus-base" not in missing
    assert {"nftables", "mmdebstrap", "btrfs-progs"} <= missing
