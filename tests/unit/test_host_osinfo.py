"""OS release, apt sources and the mirror/release the base image is bootstrapped from."""

from __future__ import annotations

from pathlib import Path

from coi.host import osinfo

DEBIAN_12 = '''PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
'''
UBUNTU_24 = '''PRETTY_NAME="Ubuntu 24.04.1 LTS"
ID=ubuntu
ID_LIKE=debian
VERSION_ID="24.04"
VERSION_CODENAME=noble
'''
DEB822 = '''Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no
'''


def test_parse_os_release() -> None:
    debian = osinfo.parse_os_release(DEBIAN_12)
    assert (debian.id, debian.codename, debian.version_id) == ("debian", "bookworm", "12")
    assert debian.pretty_name == "Debian GNU/Linux 12 (bookworm)"
    ubuntu = osinfo.parse_os_release(UBUNTU_24)
    assert ubuntu.is_debian_family and not ubuntu.is_debian
    assert ubuntu.id_like == ("debian",)


def test_deb822_sources_skip_comments_and_disabled_stanzas() -> None:
    sources = osinfo.parse_deb822(DEB822)
    assert [s.uris for s in sources] == [("http://mirror.example/debian",),
                                         ("http://mirror.example/debian-security",)]
    assert sources[0].suites == ("bookworm", "bookworm-updates")
    assert sources[0].signed_by.endswith("debian-archive-keyring.gpg")


def test_one_line_sources_with_options() -> None:
    text = ("deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n"
            "# deb http://commented.example/debian bookworm main\n"
            "deb-src http://m.example/debian bookworm main\n")
    sources = osinfo.parse_one_line(text)
    assert [(s.uris, s.suites, s.types) for s in sources] == [
        (("http://m.example/debian",), ("bookworm",), ("deb",)),
        (("http://m.example/debian",), ("bookworm",), ("deb-src",))]


def test_mirror_is_the_one_serving_the_hosts_own_release() -> None:
    release = osinfo.parse_os_release(DEBIAN_12)
    sources = list(reversed(osinfo.parse_deb822(DEB822)))  # security first: still skipped
    assert osinfo.host_mirror(release, sources) == "http://mirror.example/debian"


def test_mirror_falls_back_per_distribution() -> None:
    assert osinfo.host_mirror(osinfo.parse_os_release(DEBIAN_12), []) == osinfo.DEBIAN_MIRROR
    assert osinfo.host_mirror(osinfo.parse_os_release(UBUNTU_24), []) == osinfo.UBUNTU_MIRROR


def test_debian_hosts_bootstrap_their_own_release_others_get_the_fallback() -> None:
    debian, ubuntu = osinfo.parse_os_release(DEBIAN_12), osinfo.parse_os_release(UBUNTU_24)
    sources = osinfo.parse_deb822(DEB822)
    assert osinfo.base_release(debian) == "bookworm"
    assert osinfo.base_mirror(debian, sources) == "http://mirror.example/debian"
    assert osinfo.base_release(ubuntu) == osinfo.FALLBACK_RELEASE
    assert osinfo.base_mirror(ubuntu, sources) == osinfo.DEBIAN_MIRROR


def test_read_apt_sources_reads_both_formats(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://a.example/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "x.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "y.list.disabled").write_text("deb http://no/ x main\n")
    uris = [s.uris[0] for s in osinfo.read_apt_sources(tmp_path)]
    assert uris == ["http://a.example/debian", "http://mirror.example/debian",
                    "http://mirror.example/debian-security"]


def test_missing_os_release_is_generic_linux(tmp_path: Path) -> None:
    assert osinfo.read_os_release(tmp_path / "nope").id == "linux"


def test_incus_architecture_names() -> None:
    assert osinfo.incus_arch("amd64") == "x86_64"
    assert osinfo.incus_arch("arm64") == "aarch64"
    assert osinfo.incus_arch("x86_64") == "x86_64"
