"""Which host packages coi needs, and installing the missing ones with apt.

Tools are detected by file, not by package database, so a host with Incus from another
source (Zabbly, a tarball, another distribution) counts as done. `incus-base` is the
container-only daemon package: plain `incus` would also pull in QEMU (~300 MB) for VMs
coi never starts. dnsmasq is a Recommends of incus-base that the bridge needs for DHCP,
so it is named explicitly because we install with --no-install-recommends.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from coi.errors import SetupError
from coi.host.daemon import find_incusd
from coi.host.files import write_atomic
from coi.host.osinfo import AptSource, OsRelease
from coi.host.proc import run

BACKPORTS_FILE = Path("/etc/apt/sources.list.d/bookworm-backports.sources")
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
STEP = "install packages"


@dataclass(frozen=True)
class Tool:
    """A program coi needs, how to find it, and the Debian package that provides it."""

    label: str
    package: str
    binaries: tuple[str, ...] = ()

    def present(self) -> bool:
        if self.label == "incusd":
            return find_incusd() is not None
        return any(_found(name) for name in self.binaries)


def _found(name: str) -> bool:
    if os.path.isabs(name):
        return os.access(name, os.X_OK)
    return shutil.which(name) is not None or shutil.which(name, path="/usr/sbin:/sbin") is not None


TOOLS = (
    Tool("incusd", "incus-base"),
    Tool("incus", "incus-client", ("incus",)),
    Tool("nft", "nftables", ("nft",)),
    Tool("mkfs.btrfs", "btrfs-progs", ("mkfs.btrfs",)),
    Tool("mmdebstrap", "mmdebstrap", ("mmdebstrap",)),
    Tool("dnsmasq", "dnsmasq-base", ("dnsmasq",)),
    Tool("newuidmap", "uidmap", ("newuidmap",)),
)


def missing_tools(tools: tuple[Tool, ...] = TOOLS) -> list[Tool]:
    return [tool for tool in tools if not tool.present()]


def needs_backports(release: OsRelease, sources: list[AptSource]) -> bool:
    """Debian 12 has Incus only in bookworm-backports."""
    if release.id != "debian" or release.codename != "bookworm":
        return False
    return not any("bookworm-backports" in source.suites for source in sources)


def apt_target(release: OsRelease) -> list[str]:
    """Prefer backports on Debian 12 for every package (btrfs-progs, mmdebstrap too)."""
    if release.id == "debian" and release.codename == "bookworm":
        return ["-t", "bookworm-backports"]
    return []


def backports_source(mirror: str, keyring: str = DEBIAN_KEYRING) -> str:
    return ("Types: deb\n"
            f"URIs: {mirror}\n"
            "Suites: bookworm-backports\n"
            "Components: main\n"
            f"Signed-By: {keyring}\n")


def keyring_of(sources: list[AptSource], mirror: str) -> str:
    """Reuse the keyring the host's own Debian source is signed with."""
    for source in sources:
        if mirror in (uri.rstrip("/") for uri in source.uris) and source.signed_by:
            return source.signed_by
    return DEBIAN_KEYRING


def add_backports(mirror: str, sources: list[AptSource]) -> None:
    write_atomic(BACKPORTS_FILE, backports_source(mirror, keyring_of(sources, mirror)), 0o644)


def install(packages: list[str], release: OsRelease) -> float:
    """apt-get update + install; returns the seconds it took."""
    if shutil.which("apt-get") is None:
        raise SetupError(f"{STEP}: this host has no apt-get",
                         hint=f"install these with your package manager: {' '.join(packages)}")
    fix = "read the apt output above, then run `sudo coi setup` again"
    update = run(["apt-get", "update"], step=STEP, fix=fix, env=APT_ENV, timeout=900)
    done = run(["apt-get", "install", "-y", "--no-install-recommends", *apt_target(release),
                *resolve_names(packages)], step=STEP, fix=fix, env=APT_ENV, timeout=1800)
    return update.seconds + done.seconds


def resolve_names(packages: list[str]) -> list[str]:
    """Archives without the split container-only package get plain `incus` instead."""
    if "incus-base" not in packages:
        return packages
    probe = run(["apt-cache", "show", "incus-base"], step=STEP, check=False)
    if probe.returncode == 0 and "Package: incus-base" in probe.output:
        return packages
    return list(dict.fromkeys("incus" if p == "incus-base" else p for p in packages))
