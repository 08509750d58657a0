"""The base image recipe: mmdebstrap arguments, cache naming, metadata, remote request."""

from __future__ import annotations

import os
import socket
import tarfile
import time
from pathlib import Path

from coi.host import baseimage
from coi.host.baseimage import BaseSpec


def spec(tmp_path: Path, certs: dict[str, str] | None = None) -> BaseSpec:
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir(exist_ok=True)
    for name, body in (certs or {}).items():
        (ca_dir / name).write_text(body)
    return BaseSpec(alias="coi-base", release="bookworm", mirror="http://m.example/debian",
                    cache_dir=tmp_path / "cache", ca_dir=ca_dir)


def test_mmdebstrap_builds_a_bootable_minbase_tarball(tmp_path: Path) -> None:
    argv = baseimage.mmdebstrap_argv(spec(tmp_path), Path("/out.tar"))
    assert argv[:2] == ["mmdebstrap", "--variant=minbase"]
    assert argv[-4:] == ["--format=tar", "bookworm", "/out.tar", "http://m.example/debian"]
    include = next(a for a in argv if a.startswith("--include="))
    for package in ("systemd-sysv", "systemd-resolved", "locales", "ca-certificates", "sudo"):
        assert package in include.split("=", 1)[1].split(",")
    hooks = " ".join(argv)
    assert "eth0.network" in hooks and "systemctl enable systemd-networkd" in hooks
    assert "update-ca-certificates" not in hooks  # no extra CAs on this fake host


def test_host_ca_certificates_are_copied_in(tmp_path: Path) -> None:
    argv = baseimage.mmdebstrap_argv(spec(tmp_path, {"proxy.crt": "PEM"}), Path("/o.tar"))
    hook = next(a for a in argv if "update-ca-certificates" in a)
    assert str(tmp_path / "ca" / "proxy.crt") in hook


def test_cache_name_follows_the_recipe_and_the_certificates(tmp_path: Path) -> None:
    plain = baseimage.cache_path(spec(tmp_path))
    with_ca = baseimage.cache_path(spec(tmp_path, {"a.crt": "one"}))
    changed_ca = baseimage.cache_path(spec(tmp_path, {"a.crt": "two"}))
    assert len({plain, with_ca, changed_ca}) == 3
    assert plain.parent == tmp_path / "cache"
    assert plain.name.startswith("rootfs-bookworm-")


def test_fresh_is_about_age(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    assert not baseimage.fresh(path)
    path.write_text("x")
    assert baseimage.fresh(path)
    old = time.time() - baseimage.CACHE_MAX_AGE - 10
    os.utime(path, (old, old))
    assert not baseimage.fresh(path)


def test_a_cached_rootfs_is_reused_without_running_mmdebstrap(tmp_path: Path) -> None:
    s = spec(tmp_path)
    s.cache_dir.mkdir()
    baseimage.cache_path(s).write_text("tar")
    assert baseimage.bootstrap_rootfs(s) == (baseimage.cache_path(s), True)


def test_metadata_tarball_holds_the_yaml(tmp_path: Path) -> None:
    text = baseimage.metadata_yaml(spec(tmp_path), "x86_64", 1700000000)
    assert "architecture: x86_64\n" in text and "creation_date: 1700000000\n" in text
    assert "  release: bookworm\n" in text
    path = tmp_path / "m.tar"
    baseimage.write_metadata_tar(path, text, 1700000000)
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["metadata.yaml"]
        member = tar.extractfile("metadata.yaml")
        assert member is not None and member.read().decode() == text


def test_remote_request_pulls_a_container_image_by_alias(tmp_path: Path) -> None:
    body = baseimage.remote_request(spec(tmp_path))
    assert body["source"] == {"type": "image", "mode": "pull",
                              "server": "https://images.linuxcontainers.org",
                              "protocol": "simplestreams", "alias": "debian/bookworm",
                              "image_type": "container"}
    assert body["aliases"][0]["name"] == "coi-base"


def test_reachability_is_a_bounded_tcp_connect() -> None:
    # Loopback only: a listening socket answers, a closed port does not.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert baseimage.remote_reachable("127.0.0.1", port, timeout=0.5)
    started = time.monotonic()
    assert not baseimage.remote_reachable("127.0.0.1", port, timeout=0.5)
    assert time.monotonic() - started < 2
