"""The `coi-base` image: a minimal bootable Debian, pulled or bootstrapped locally.

Local: mmdebstrap builds a rootfs tarball from the host's Debian mirror (~30 s), plus a
metadata tarball, imported as a split image. The rootfs boots systemd, gets an address
by DHCP (networkd on eth0), resolves via resolved, has a UTF-8 locale, and trusts the
host's extra CA certificates (a TLS-inspecting proxy would otherwise break HTTPS).
Remote: the daemon pulls debian/<release> from images.linuxcontainers.org itself (not
testable on a host without that server; kept to one API request).
"""

from __future__ import annotations

import hashlib
import io
import shlex
import socket
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coi.host.osinfo import incus_arch
from coi.host.proc import run
from coi.incus.client import Client
from coi.incus.images import import_image

CACHE_DIR = Path("/var/cache/coi")
CA_DIR = Path("/usr/local/share/ca-certificates")
CACHE_MAX_AGE = 24 * 3600.0
REMOTE_HOST = "images.linuxcontainers.org"
REMOTE_SERVER = f"https://{REMOTE_HOST}"
PROBE_TIMEOUT = 3.0
STEP = "base image"
PACKAGES = ("systemd", "systemd-sysv", "systemd-resolved", "udev", "dbus", "iproute2",
            "ca-certificates", "locales", "sudo", "netbase")


@dataclass(frozen=True)
class BaseSpec:
    """What to build: Debian `release` from `mirror`, imported as `alias`."""

    alias: str
    release: str
    mirror: str
    cache_dir: Path = CACHE_DIR
    ca_dir: Path = CA_DIR

    @property
    def description(self) -> str:
        return f"coi base (Debian {self.release}, bootstrapped locally)"


def ca_files(ca_dir: Path) -> list[Path]:
    return sorted(ca_dir.glob("*.crt")) if ca_dir.is_dir() else []


def customize_hooks(spec: BaseSpec) -> list[str]:
    """Shell run by mmdebstrap on the host with $1 = the new root, after installing."""
    hooks = [
        'mkdir -p "$1/etc/systemd/network" && printf "[Match]\\nName=eth0\\n\\n[Network]\\n'
        'DHCP=yes\\n" > "$1/etc/systemd/network/eth0.network"',
        'chroot "$1" systemctl enable systemd-networkd systemd-resolved',
        'echo "en_US.UTF-8 UTF-8" > "$1/etc/locale.gen" && chroot "$1" locale-gen'
        ' && echo LANG=en_US.UTF-8 > "$1/etc/default/locale"',
        f'echo {shlex.quote(spec.alias)} > "$1/etc/hostname"',
        'ln -sf ../run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf"',
    ]
    certs = ca_files(spec.ca_dir)
    if certs:
        files = " ".join(shlex.quote(str(c)) for c in certs)
        hooks.append(f'cp {files} "$1/usr/local/share/ca-certificates/"'
                     ' && chroot "$1" update-ca-certificates')
    return hooks


def mmdebstrap_argv(spec: BaseSpec, out: Path) -> list[str]:
    hooks = [f"--customize-hook={hook}" for hook in customize_hooks(spec)]
    return ["mmdebstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", *hooks,
            "--format=tar", spec.release, str(out), spec.mirror]


def cache_path(spec: BaseSpec) -> Path:
    """One cache file per recipe: the argv and the CA files' content decide the name."""
    digest = hashlib.sha256(" ".join(mmdebstrap_argv(spec, Path("-"))).encode())
    for cert in ca_files(spec.ca_dir):
        digest.update(cert.read_bytes())
    return spec.cache_dir / f"rootfs-{spec.release}-{incus_arch()}-{digest.hexdigest()[:12]}.tar"


def fresh(path: Path, max_age: float = CACHE_MAX_AGE) -> bool:
    return path.is_file() and time.time() - path.stat().st_mtime < max_age


def bootstrap_rootfs(spec: BaseSpec) -> tuple[Path, bool]:
    """The rootfs tarball, built now or reused from the cache; (path, was_cached)."""
    target = cache_path(spec)
    if fresh(target):
        return target, True
    spec.cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    run(mmdebstrap_argv(spec, partial), step=STEP, timeout=1800,
        fix=f"check that {spec.mirror} is reachable, or pass --mirror / --base-release")
    partial.replace(target)
    return target, False


def metadata_yaml(spec: BaseSpec, arch: str, created: int) -> str:
    return (f"architecture: {arch}\n"
            f"creation_date: {created}\n"
            "properties:\n"
            "  os: debian\n"
            f"  release: {spec.release}\n"
            f"  architecture: {arch}\n"
            f'  description: "{spec.description}"\n')


def write_metadata_tar(path: Path, yaml_text: str, created: int) -> None:
    data = yaml_text.encode()
    info = tarfile.TarInfo("metadata.yaml")
    info.size, info.mtime, info.mode = len(data), created, 0o644
    with tarfile.open(path, "w") as tar:
        tar.addfile(info, io.BytesIO(data))


def import_local(client: Client, spec: BaseSpec) -> tuple[str, str]:
    """Bootstrap (or reuse) the rootfs and import it; (fingerprint, how it went)."""
    started = time.monotonic()
    rootfs, cached = bootstrap_rootfs(spec)
    arch, created = incus_arch(), int(time.time())
    metadata = rootfs.with_suffix(".metadata.tar")
    write_metadata_tar(metadata, metadata_yaml(spec, arch, created), created)
    properties = {"os": "debian", "release": spec.release, "description": spec.description}
    try:
        fingerprint = import_image(client, metadata, rootfs, [spec.alias], properties)
    finally:
        metadata.unlink(missing_ok=True)
    how = "reused the cached rootfs" if cached else "bootstrapped with mmdebstrap"
    return fingerprint, f"{how} in {time.monotonic() - started:.0f} s"


def remote_request(spec: BaseSpec) -> dict[str, Any]:
    return {
        "source": {"type": "image", "mode": "pull", "server": REMOTE_SERVER,
                   "protocol": "simplestreams", "alias": f"debian/{spec.release}",
                   "image_type": "container"},
        "aliases": [{"name": spec.alias, "description": f"coi base (Debian {spec.release})"}],
        "auto_update": False,
        "public": False,
    }


def import_remote(client: Client, spec: BaseSpec) -> str:
    meta = client.sync("POST", "/images", remote_request(spec), timeout=1800,
                       context=f"pull debian/{spec.release} from {REMOTE_HOST}")
    return str((meta or {}).get("fingerprint", ""))


def remote_reachable(host: str = REMOTE_HOST, port: int = 443,
                     timeout: float = PROBE_TIMEOUT) -> bool:
    """A TCP connect to the image server, bounded in time even when DNS hangs."""
    answered: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            answered.append(True)
        except OSError:
            pass

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answered)
