"""The one long test: `coi build` makes the full default image, and it works (~2-3 min).

Built under a throw-away alias (the hidden `--alias`), so the machine's own `coi` image is
never touched. Network: the Debian mirror and the npm registry only.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coi.errors import NotFound
from coi.images import buildbox
from coi.incus import exec as incus_exec
from coi.incus import images, instances
from coi.incus.client import Client
from coi.incus.exec import ExecResult
from tests.integration.conftest import unique_name
from tests.integration.test_build import forget

COI = str(Path(sys.executable).with_name("coi"))
BUSYBOX_IMAGE = """set -e
apt-get update -q >/dev/null
apt-get install -y -q busybox-static >/dev/null
mkdir -p /tmp/rootfs/bin
cp /bin/busybox /tmp/rootfs/bin/busybox
ln -s busybox /tmp/rootfs/bin/sh
tar -C /tmp/rootfs -cf /tmp/rootfs.tar .
"""


@pytest.fixture
def full_image(incus: Client, base_image: str) -> Iterator[str]:
    """A throw-away alias for the build; its images go when the test ends."""
    alias = unique_name("coi-test-full-")
    yield alias
    for image in images.list_images(incus):
        if any(a == alias or a.startswith(f"{alias}-") for a in image.aliases):
            with contextlib.suppress(NotFound):
                images.delete_image(incus, image.fingerprint)
    forget([alias])


def as_code(client: Client, box: str, command: str, timeout: float = 120) -> ExecResult:
    return incus_exec.run(client, box, ["bash", "-lc", command], user=1000, group=1000,
                          env={"HOME": "/home/code"}, cwd="/home/code", timeout=timeout)


# One test on purpose: parallel workers must not split it and build the image twice.
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_coi_build_makes_a_working_default_image(
        incus: Client, full_image: str, new_name: Callable[[], str]) -> None:
    done = subprocess.run([COI, "build", "--alias", full_image], capture_output=True,
                          text=True, timeout=840, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stderr == ""  # progress goes to stdout; a good build has no complaints
    check_build_output(incus, full_image, done.stdout)
    box = new_name()
    instances.create(incus, box, image=full_image, start=True, config=buildbox.NESTING,
                     timeout=300)
    buildbox.wait_ready(incus, box, ())
    check_boot_and_tools(incus, box)
    check_docker(incus, box)


def check_build_output(incus: Client, alias: str, output: str) -> None:
    assert f"built {alias} in " in output
    for phase in ("install development tools", "install docker and gh",
                  "install AI tools from npm: @anthropic-ai/claude-code opencode-ai"):
        assert f"phase: {phase}" in output
    image = images.get_image(incus, alias)
    assert image.properties["coi.tools"] == "claude,opencode"
    assert image.properties["coi.recipe.name"] == "coi"
    assert any(re.fullmatch(rf"{alias}-\d{{8}}-\d{{6}}", a) for a in image.aliases)


def check_boot_and_tools(incus: Client, box: str) -> None:
    state = incus_exec.run(incus, box, ["systemctl", "is-system-running"])
    assert state.stdout.decode().strip() in ("running", "degraded")
    assert instances.state(incus, box).ipv4  # from DHCP on the bridge
    tools = as_code(incus, box, "claude --version && opencode --version && "
                    "dummy --version && node -p process.versions.node && hostname")
    assert tools.ok, tools.stderr.decode()
    claude, opencode, dummy, node, hostname = tools.stdout.decode().splitlines()
    assert "Claude Code" in claude
    assert re.fullmatch(r"\d+\.\d+\.\d+", opencode)
    assert dummy.startswith("dummy 1.0.0")
    assert int(node.split(".")[0]) >= 18
    assert hostname == box


def check_docker(incus: Client, box: str) -> None:
    """Docker runs a container, for the code user too (no registry: a busybox rootfs
    from the Debian mirror, imported)."""
    made = incus_exec.run(incus, box, ["bash", "-c", BUSYBOX_IMAGE], timeout=300)
    assert made.ok, made.stderr.decode()
    run = as_code(incus, box, "docker import /tmp/rootfs.tar coi-busybox >/dev/null && "
                  "docker run --rm coi-busybox /bin/busybox echo ok", timeout=300)
    assert run.ok, run.stderr.decode()
    assert run.stdout.decode().strip() == "ok"
