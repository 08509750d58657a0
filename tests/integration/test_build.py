"""`coi build custom` against the real daemon: a working build, failures, interruption,
leftovers of dead builds, and the shared test image itself."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coi.errors import NotFound
from coi.images import stale
from coi.images.build import HostPaths
from coi.images.plans import ensure_test_image
from coi.incus import exec as incus_exec
from coi.incus import files, images, instances
from coi.incus.client import Client
from tests.integration.conftest import unique_name

COI = str(Path(sys.executable).with_name("coi"))
CONTAINER = re.compile(r"start the build container (coi-build-[0-9a-f]{8})")


def coi_build(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COI, "build", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=240, check=False)


def exists(client: Client, container: str) -> bool:
    try:
        instances.get(client, container)
    except NotFound:
        return False
    return True


def aliases_of(client: Client, name: str) -> list[str]:
    return [a for i in images.list_images(client) for a in i.aliases
            if a == name or a.startswith(f"{name}-")]


@pytest.fixture
def image_name(incus: Client) -> Iterator[Callable[[], str]]:
    """Unique image names; every image named so (plainly or as a version) goes after."""
    made: list[str] = []

    def make() -> str:
        made.append(unique_name("coi-test-img-"))
        return made[-1]

    yield make
    for image in images.list_images(incus):
        if any(a == n or a.startswith(f"{n}-") for n in made for a in image.aliases):
            with contextlib.suppress(NotFound):
                images.delete_image(incus, image.fingerprint)
    forget(made)


def forget(names: list[str]) -> None:
    """Remove the lock and log files that builds of test-only names left in ~/.coi."""
    paths = HostPaths.for_user()
    for name in names:
        paths.locks.image(name).unlink(missing_ok=True)
        for log in paths.logs.glob(f"build-{name}-*.log"):
            log.unlink()


def script(tmp_path: Path, body: str, name: str = "build.sh") -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\nset -e\n" + body)
    return path


def test_custom_image_is_built_published_and_usable(
        incus: Client, test_image: str, image_name: Callable[[], str], tmp_path: Path,
        new_name: Callable[[], str]) -> None:
    name = image_name()
    (tmp_path / "hello.txt").write_text("from the host\n")
    build = script(tmp_path, 'echo "::phase:: write the marker"\n'
                   "cat /workspace/hello.txt > /etc/coi-custom-marker\n"
                   "touch /workspace/x 2>/dev/null && echo writable >> /etc/coi-custom-marker\n"
                   "echo custom build done\n")
    done = coi_build("custom", name, "--script", str(build), "--base", test_image,
                     "--with-workspace", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "phase: write the marker" in done.stdout
    assert "custom build done" in done.stdout  # the script's output is shown live
    assert f"built {name} in " in done.stdout
    image = images.get_image(incus, name)
    assert image.properties["coi.base"] == test_image
    assert image.properties["coi.recipe.name"] == "custom:build.sh"
    version = next(a for a in image.aliases if a != name)
    assert re.fullmatch(rf"{name}-\d{{8}}-\d{{6}}", version)
    assert not exists(incus, CONTAINER.search(done.stdout).group(1))  # type: ignore[union-attr]

    box = new_name()
    instances.create(incus, box, image=name, start=True)
    assert files.read_file(incus, box, "/etc/coi-custom-marker") == b"from the host\n"
    listing = incus_exec.run(incus, box, ["ls", "-A", "/var/tmp"]).stdout.decode()
    assert "coi-build" not in listing

    again = coi_build("custom", name, "--script", str(build), "--base", test_image)
    assert again.returncode == 0
    assert again.stdout.startswith(f"image {name} already exists (built ")
    assert "use --force to rebuild" in again.stdout


def test_failing_script_leaves_nothing_behind(
        incus: Client, test_image: str, image_name: Callable[[], str], tmp_path: Path) -> None:
    name = image_name()
    build = script(tmp_path, "echo about to fail\nexit 3\n", "fails.sh")
    done = coi_build("custom", name, "--script", str(build), "--base", test_image)
    assert done.returncode == 1
    assert "the build script fails.sh failed with exit status 3" in done.stderr
    assert "last lines of the build log:" in done.stderr
    assert "  about to fail" in done.stderr
    log = re.search(r"see the build log: (\S+)\)", done.stderr)
    assert log is not None and "about to fail" in Path(log.group(1)).read_text()
    container = CONTAINER.search(done.stdout)
    assert container is not None and not exists(incus, container.group(1))
    assert aliases_of(incus, name) == []


def test_missing_base_and_missing_script(image_name: Callable[[], str], tmp_path: Path) -> None:
    build = script(tmp_path, "true\n")
    missing = unique_name("coi-test-nobase-")
    name = image_name()
    done = coi_build("custom", name, "--script", str(build), "--base", missing)
    assert done.returncode == 5
    assert f"coi: error: the base image {missing} does not exist" in done.stderr
    assert "--base" in done.stderr
    done = coi_build("custom", name, "--script", str(tmp_path / "nope.sh"))
    assert done.returncode == 5
    assert f"build script {tmp_path / 'nope.sh'} not found" in done.stderr


def read_until(proc: subprocess.Popen[str], pattern: str, timeout: float) -> str:
    """Collect the process's stdout until `pattern` shows up (or fail)."""
    seen: list[str] = []
    found = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if pattern in line:
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    assert found.wait(timeout), f"never saw {pattern!r}: {''.join(seen)}"
    return "".join(seen)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_build_cleans_up_and_the_next_one_succeeds(
        incus: Client, test_image: str, image_name: Callable[[], str], tmp_path: Path,
        signum: signal.Signals) -> None:
    name = image_name()
    slow = script(tmp_path, 'echo "::phase:: sleeping"\nsleep 120\n', "slow.sh")
    proc = subprocess.Popen([COI, "build", "custom", name, "--script", str(slow), "--base",
                             test_image], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        output = read_until(proc, "phase: sleeping", timeout=120)
        container = CONTAINER.search(output)
        assert container is not None and exists(incus, container.group(1))
        proc.send_signal(signum)
        assert proc.wait(timeout=90) == 130
    finally:
        proc.kill()
        proc.wait()
    assert not exists(incus, container.group(1))
    assert not HostPaths.for_user().locks.build(container.group(1)).exists()
    assert aliases_of(incus, name) == []

    quick = script(tmp_path, "echo fine\n", "quick.sh")
    done = coi_build("custom", name, "--script", str(quick), "--base", test_image)
    assert done.returncode == 0, done.stderr
    assert images.alias_target(incus, name)


def test_leftovers_of_dead_builds_are_swept(
        incus: Client, test_image: str, tmp_path: Path, cleanup_images: list[str],
        cleanup_instances: list[str]) -> None:
    locks = HostPaths.for_user().locks
    dead = unique_name(stale.BUILD_PREFIX)
    cleanup_instances.append(dead)
    instances.create(incus, dead, image=test_image)
    locks.directory.mkdir(parents=True, exist_ok=True)
    locks.build(dead).touch()  # its lock file is there, and nobody holds it
    live = unique_name(stale.BUILD_PREFIX)
    cleanup_instances.append(live)
    instances.create(incus, live, image=test_image)
    orphan = orphan_image(incus, tmp_path, built_by=unique_name(stale.BUILD_PREFIX))
    cleanup_images.append(orphan)
    with stale.build_lock(locks, live):
        notes = stale.sweep(incus, locks, now=datetime.now(UTC) + timedelta(hours=1))
    # Any build running in parallel (other test workers) may have swept it first.
    assert not exists(incus, dead) and not locks.build(dead).exists()
    assert exists(incus, live)  # its build holds the lock, and it is young
    assert f"removed the unnamed image {orphan[:12]} of a failed build" in notes


def orphan_image(client: Client, tmp_path: Path, built_by: str) -> str:
    """A tiny unnamed image, as a build interrupted during publish leaves it."""
    import io
    import tarfile

    meta, rootfs = tmp_path / "meta.tar", tmp_path / "rootfs.tar"
    # metadata.yaml must have a properties map: Incus 6.0.4 panics (and dies) importing
    # an image with X-Incus-properties whose metadata has none.
    for path, name, data in ((meta, "metadata.yaml", b"architecture: x86_64\n"
                              b"creation_date: 1700000000\nproperties:\n  os: test\n"),
                             (rootfs, "etc/marker", built_by.encode())):
        with tarfile.open(path, "w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return images.import_image(client, meta, rootfs, [], {stale.BUILD_PROPERTY: built_by})


def test_the_test_image_is_cached_and_works(
        incus: Client, test_image: str, new_name: Callable[[], str]) -> None:
    started = time.monotonic()
    again = ensure_test_image(incus, test_image)
    assert not again.built and time.monotonic() - started < 2
    box = new_name()
    instances.create(incus, box, image=test_image, start=True)
    check = ("dummy --version && sudo -n true && tmux -V && id -u && "
             "test -w /workspace && hostname")
    result = incus_exec.run(incus, box, ["bash", "-lc", check], user=1000, group=1000,
                            env={"HOME": "/home/code"}, cwd="/home/code", timeout=60)
    assert result.ok, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("dummy 1.0.0")
    assert lines[2] == "1000"
    assert lines[-1] == box  # no hostname baked into the image
