"""The local base-image bootstrap, for real: mmdebstrap from the host's mirror (~30 s).

Imported under a test alias and deleted afterwards; `coi-base` itself is not touched.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from coi.host.baseimage import BaseSpec, ca_files, import_local
from coi.host.osinfo import base_mirror, base_release, read_apt_sources, read_os_release
from coi.incus.client import Client
from coi.incus.images import alias_target, delete_image

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="mmdebstrap needs root")]


def wait_for_ipv4(incus: Client, name: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        eth0 = (incus.get(f"/instances/{name}/state").get("network") or {}).get("eth0") or {}
        for address in eth0.get("addresses") or []:
            if address.get("family") == "inet":
                return str(address["address"])
        time.sleep(0.5)
    raise AssertionError(f"{name}: no IPv4 from DHCP in {timeout:.0f} s (networkd not up?)")


def file_exists(incus: Client, name: str, path: str) -> bool:
    resp = incus.raw("GET", f"/instances/{name}/files", params={"path": path})
    resp.read()
    return resp.status == 200


@pytest.mark.timeout(1200)
def test_bootstrap_builds_a_bootable_image_with_network_and_host_cas(
        incus: Client, new_name: Callable[[], str], tmp_path: Path) -> None:
    release = read_os_release()
    spec = BaseSpec(alias=f"coi-test-base-{uuid.uuid4().hex[:6]}",
                    release=base_release(release),
                    mirror=base_mirror(release, read_apt_sources()), cache_dir=tmp_path)
    fingerprint, how = import_local(incus, spec)
    made = [fingerprint]
    try:
        assert how.startswith("bootstrapped with mmdebstrap"), how
        assert alias_target(incus, spec.alias) == fingerprint
        again, how_again = import_local(incus, spec)
        made.append(again)
        assert how_again.startswith("reused the cached rootfs"), how_again

        name = new_name()
        incus.sync("POST", "/instances", {"name": name, "start": True,
                                          "source": {"type": "image", "alias": spec.alias}},
                   timeout=300)
        wait_for_ipv4(incus, name)
        assert file_exists(incus, name, "/etc/default/locale")
        for cert in ca_files(spec.ca_dir):
            assert file_exists(incus, name, f"/usr/local/share/ca-certificates/{cert.name}")
    finally:
        for image in set(made):
            delete_image(incus, image)
