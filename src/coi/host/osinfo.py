"""Facts about the host OS: release, architecture, and the apt mirror it already uses.

The base image is bootstrapped from the same mirror the host's apt uses, so coi works
behind the same proxy or private mirror without extra configuration.
"""

from __future__ import annotations

import platform
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DEBIAN_MIRROR = "http://deb.debian.org/debian"
UBUNTU_MIRROR = "http://archive.ubuntu.com/ubuntu"
# Non-Debian hosts bootstrap this Debian release: one tested package list for every host.
FALLBACK_RELEASE = "trixie"

# `uname -m` → the architecture names Incus uses in image metadata.
INCUS_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
              "arm64": "aarch64", "armv7l": "armv7l", "ppc64le": "ppc64le",
              "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class OsRelease:
    """The interesting fields of /etc/os-release."""

    id: str = "linux"
    version_id: str = ""
    codename: str = ""
    pretty_name: str = "Linux"
    id_like: tuple[str, ...] = ()

    @property
    def is_debian(self) -> bool:
        return self.id == "debian"

    @property
    def is_debian_family(self) -> bool:
        return self.id in ("debian", "ubuntu") or "debian" in self.id_like


def parse_os_release(text: str) -> OsRelease:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        key, sep, value = raw.partition("=")
        if sep and not key.startswith("#"):
            parts = shlex.split(value) if value.strip() else [""]
            values[key.strip()] = parts[0] if parts else ""
    return OsRelease(
        id=values.get("ID", "linux"),
        version_id=values.get("VERSION_ID", ""),
        codename=values.get("VERSION_CODENAME", ""),
        pretty_name=values.get("PRETTY_NAME", "Linux"),
        id_like=tuple(values.get("ID_LIKE", "").split()),
    )


def read_os_release(path: Path = Path("/etc/os-release")) -> OsRelease:
    try:
        return parse_os_release(path.read_text())
    except OSError:
        return OsRelease()


def kernel_release() -> str:
    return platform.release()


def incus_arch(machine: str | None = None) -> str:
    name = machine or platform.machine()
    return INCUS_ARCH.get(name, name)


@dataclass(frozen=True)
class AptSource:
    """One apt source: its URIs, suites and components (deb822 or one-line form)."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...] = ()
    signed_by: str = ""
    types: tuple[str, ...] = field(default=("deb",))


def parse_deb822(text: str) -> list[AptSource]:
    sources = []
    for stanza in _stanzas(text):
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        sources.append(AptSource(
            uris=tuple(stanza.get("uris", "").split()),
            suites=tuple(stanza.get("suites", "").split()),
            components=tuple(stanza.get("components", "").split()),
            signed_by=stanza.get("signed-by", "").strip(),
            types=tuple(stanza.get("types", "deb").split()),
        ))
    return sources


def _stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = [{}]
    key = ""
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            stanzas.append({})
        elif raw[0] in " \t" and key:
            stanzas[-1][key] += "\n" + raw.strip()  # continuation (e.g. an inline key)
        else:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            stanzas[-1][key] = value.strip()
    return [s for s in stanzas if s]


def parse_one_line(text: str) -> list[AptSource]:
    """`deb [options] URI suite component…` lines of sources.list."""
    sources = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        rest = words[1:]
        if rest[0].startswith("["):
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) >= 2:
            sources.append(AptSource((rest[0],), (rest[1],), tuple(rest[2:]), "", (words[0],)))
    return sources


def read_apt_sources(etc_apt: Path = Path("/etc/apt")) -> list[AptSource]:
    found: list[AptSource] = []
    files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            found += parse_deb822(text)
        elif path.suffix == ".list" or path.name == "sources.list":
            found += parse_one_line(text)
    return found


def host_mirror(release: OsRelease, sources: list[AptSource]) -> str:
    """The mirror the host's apt uses for its own release (not -security/-updates)."""
    if release.codename:
        for source in sources:
            if "deb" in source.types and release.codename in source.suites and source.uris:
                return source.uris[0].rstrip("/")
    return UBUNTU_MIRROR if release.id == "ubuntu" else DEBIAN_MIRROR


def base_release(release: OsRelease) -> str:
    """Debian hosts bootstrap their own release; every other host gets FALLBACK_RELEASE."""
    if release.is_debian and release.codename:
        return release.codename
    return FALLBACK_RELEASE


def base_mirror(release: OsRelease, sources: list[AptSource]) -> str:
    """The Debian mirror to bootstrap from: the host's own on Debian, else deb.debian.org."""
    return host_mirror(release, sources) if release.is_debian else DEBIAN_MIRROR
