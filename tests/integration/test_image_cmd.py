"""`coi image …` against the real daemon, as a user sees it (output and exit status).

Test images are tiny imports (a few hundred bytes, made in milliseconds) under
`coi-itest-<random>` aliases; only the publish tests make images from a container.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coi.cli.errors import run_guarded
from coi.cli.main import cli
from coi.errors import NotFound
from coi.images.publish import PublishRequest, publish
from coi.incus import images, instances
from coi.incus.client import Client
from tests.integration.conftest import unique_name

Run = Callable[..., tuple[int, str, str]]
MakeImage = Callable[..., str]


@pytest.fixture
def coi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `coi image …` in-process with a config of its own (no user or project file)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("SUDO_USER", "COI_CONFIG", "COI_IMAGE", "COI_REMOTE", "COI_PROJECT"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = run_guarded(cli, ["image", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def family() -> str:
    return unique_name("coi-itest-")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def make_image(incus: Client, tmp_path: Path, cleanup_images: list[str]) -> MakeImage:
    """Import a tiny image (unique content) under `aliases`; it is deleted afterwards."""

    def make(*aliases: str, description: str = "coi itest", created: int = 1700000000) -> str:
        seed = uuid.uuid4().hex
        meta, rootfs = tmp_path / f"{seed}.meta.tar", tmp_path / f"{seed}.rootfs.tar"
        yaml = (f"architecture: x86_64\ncreation_date: {created}\n"
                f"properties:\n  description: {description}\n  coi.recipe_hash: itest\n")
        with tarfile.open(meta, "w") as tar:
            _add(tar, "metadata.yaml", yaml.encode())
        with tarfile.open(rootfs, "w") as tar:
            _add(tar, "etc/coi-marker", seed.encode())
        fingerprint = images.import_image(incus, meta, rootfs, list(aliases))
        cleanup_images.append(fingerprint)
        return fingerprint

    return make


@pytest.fixture
def alias_cleanup(incus: Client) -> Iterator[list[str]]:
    """Images that aliases appended here point at are deleted after the test."""
    aliases: list[str] = []
    yield aliases
    for alias in aliases:
        with contextlib.suppress(NotFound):
            images.delete_image(incus, images.alias_target(incus, alias))


def gone(incus: Client, fingerprint: str) -> bool:
    try:
        images.get_image(incus, fingerprint)
    except NotFound:
        return True
    return False


# -- list, exists, info -------------------------------------------------------------------


def test_list_text_and_json(coi: Run, incus: Client, make_image: MakeImage,
                            family: str) -> None:
    version = f"{family}-20250101-120000"
    fingerprint = make_image(family, version, description="listed")
    code, out, _ = coi("list")
    assert code == 0
    assert out.startswith("COI Images:\n  ")
    row = next(line for line in out.splitlines() if family in line)
    assert row.split()[:4] == [family, "→", version, fingerprint[:12]]
    assert row.rstrip().endswith("2023-11-14 22:13  listed")

    code, out, _ = coi("list", "--prefix", family, "--json")
    assert code == 0
    assert json.loads(out) == [{
        "aliases": [family, version], "fingerprint": fingerprint,
        "size_bytes": images.get_image(incus, fingerprint).size,
        "created_at": "2023-11-14T22:13:20Z", "description": "listed",
        "properties": {"coi.recipe_hash": "itest", "description": "listed"}}]


def test_list_all_includes_images_without_a_coi_alias(coi: Run, make_image: MakeImage) -> None:
    fingerprint = make_image()  # no alias at all
    assert fingerprint[:12] not in coi("list")[1]
    assert fingerprint[:12] in coi("list", "--all")[1]
    assert fingerprint in [d["fingerprint"] for d in json.loads(coi("list", "--all", "--json")[1])]


def test_exists(coi: Run, make_image: MakeImage, family: str) -> None:
    fingerprint = make_image(family)
    assert coi("exists", family) == (0, "", "")
    assert coi("exists", fingerprint[:12]) == (0, "", "")
    assert coi("exists", f"{family}-missing") == (1, "", "")


def test_exists_through_the_installed_command(make_image: MakeImage, family: str) -> None:
    make_image(family)
    coi_bin = Path(sys.executable).with_name("coi")
    for name, status in ((family, 0), (f"{family}-missing", 1)):
        done = subprocess.run([coi_bin, "image", "exists", name], capture_output=True,
                              text=True, timeout=30, check=False)
        assert (done.returncode, done.stdout, done.stderr) == (status, "", "")


def test_info_shows_the_versions_of_its_family(coi: Run, make_image: MakeImage,
                                               family: str) -> None:
    old = make_image(f"{family}-20250101-120000")
    new = make_image(family, f"{family}-20250201-120000")
    code, out, _ = coi("info", family)
    assert code == 0
    assert f"Fingerprint:  {new}" in out.splitlines()
    assert "Architecture: x86_64" in out
    assert "  coi.recipe_hash: itest" in out.splitlines()
    doc = json.loads(coi("info", old[:12], "--json")[1])
    assert (doc["fingerprint"], doc["prefix"]) == (old, family)
    assert [(v["alias"], v["current"]) for v in doc["versions"]] == [
        (f"{family}-20250201-120000", False), (f"{family}-20250101-120000", True)]
    assert coi("info", f"{family}-missing")[0] == 5


# -- delete --------------------------------------------------------------------------------


def test_delete_by_alias_and_by_fingerprint(coi: Run, incus: Client, make_image: MakeImage,
                                            family: str) -> None:
    first, second = make_image(family), make_image()
    assert coi("delete", family) == (0, f"Deleted image {first[:12]} ({family})\n", "")
    assert coi("delete", second[:12], "--json")[1] == json.dumps(
        {"fingerprint": second, "aliases": []}, indent=2) + "\n"
    assert gone(incus, first) and gone(incus, second)
    code, _, err = coi("delete", family)
    assert code == 5
    assert err.startswith(f"coi: error: no image '{family}'")


def test_delete_refuses_the_configured_default(coi: Run, incus: Client, make_image: MakeImage,
                                               family: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    version = f"{family}-20250101-120000"
    fingerprint = make_image(family, version)
    monkeypatch.setenv("COI_IMAGE", family)
    code, out, err = coi("delete", version)
    assert (code, out) == (6, "")
    assert err == (f"coi: error: image {fingerprint[:12]} is the default image (alias "
                   f"{family}) (pass --force to delete it anyway)\n")
    assert not gone(incus, fingerprint)
    assert coi("delete", version, "--force")[0] == 0
    assert gone(incus, fingerprint)


# -- cleanup ---------------------------------------------------------------------------


def test_cleanup_keeps_the_newest_and_what_the_plain_alias_points_at(
        coi: Run, incus: Client, make_image: MakeImage, family: str) -> None:
    v1, v2, v3 = (f"{family}-2025010{n}-120000" for n in (1, 2, 3))
    # The plain alias was rolled back to the oldest version: that one must stay.
    first, second, third = make_image(family, v1), make_image(v2), make_image(v3)
    unrelated = make_image(f"{family}x-20240101-120000")

    code, out, _ = coi("cleanup", f"{family}-", "--keep", "1", "--dry-run")
    assert code == 0 and out.startswith(f"Would delete 1 old version(s) of {family}:")
    assert not gone(incus, second)

    code, out, _ = coi("cleanup", family, "--keep", "1", "--json")
    assert code == 0
    assert json.loads(out) == {
        "prefix": family, "dry_run": False, "kept": [v3],
        "deleted": [{"fingerprint": second, "aliases": [v2]}],
        "spared": [{"alias": v1, "fingerprint": first, "held_by": [family]}]}
    assert gone(incus, second)
    assert not any(gone(incus, fp) for fp in (first, third, unrelated))
    assert coi("cleanup", family, "--keep", "0")[0] == 2


# -- publish ---------------------------------------------------------------------------


@pytest.fixture
def stopped_container(incus: Client, base_image: str,
                      cleanup_instances: list[str]) -> str:
    name = unique_name("coi-itest-")
    cleanup_instances.append(name)
    instances.create(incus, name, image=base_image)
    return name


def test_publish_then_refuse_the_same_alias(coi: Run, incus: Client, stopped_container: str,
                                            family: str, alias_cleanup: list[str]) -> None:
    alias_cleanup.append(family)
    code, out, _ = coi("publish", stopped_container, family, "--description", "itest image",
                       "--compression", "none", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["alias"] == family
    image = images.get_image(incus, family)
    assert (image.fingerprint, image.description) == (doc["fingerprint"], "itest image")

    code, out, err = coi("publish", stopped_container, family)
    assert (code, out) == (6, "")
    assert err == (f"coi: error: image alias '{family}' exists already "
                   "(pass --force to move it to the new image)\n")
    assert images.alias_target(incus, family) == doc["fingerprint"]


def test_publish_a_missing_container(coi: Run, family: str) -> None:
    code, _, err = coi("publish", f"{family}-no-such-container", family)
    assert code == 5
    assert err == (f"coi: error: no container named '{family}-no-such-container' "
                   "(`coi list` shows containers)\n")


def test_publish_stops_a_running_container_by_force_after_the_timeout(
        incus: Client, stopped_container: str, family: str, alias_cleanup: list[str]) -> None:
    # With a 1 s budget for the clean stop (a container just booted usually ignores it),
    # the daemon's "deadline exceeded" error must lead to a forced stop, not a failure.
    alias_cleanup.append(family)
    instances.start(incus, stopped_container)
    done = publish(incus, PublishRequest(stopped_container, family, compression="none",
                                         stop_timeout=1))
    assert done.stopped
    assert instances.get(incus, stopped_container).status == "Stopped"
    assert images.alias_target(incus, family) == done.fingerprint
