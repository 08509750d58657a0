"""Fixtures for tests against the real Incus daemon.

The daemon and the `coi-base` image come from `coi setup` (scripts/test runs it first).
Every container a test makes is named `coi-test-…` and deleted when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from coi.errors import IncusError, NotFound
from coi.incus.client import Client

BASE_IMAGE = os.environ.get("COI_TEST_BASE_IMAGE", "coi-base")
TEST_PREFIX = "coi-test-"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def incus() -> Iterator[Client]:
    client = Client()
    try:
        client.server_info()
    except IncusError as exc:
        pytest.fail(f"no Incus daemon ({exc}); run `coi setup` first", pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(incus: Client) -> str:
    try:
        incus.get(f"/images/aliases/{BASE_IMAGE}")
    except NotFound:
        pytest.fail(f"image {BASE_IMAGE} missing; run `coi setup` first", pytrace=False)
    return BASE_IMAGE


def unique_name(prefix: str = TEST_PREFIX) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cleanup_instances(incus: Client) -> Iterator[list[str]]:
    """Names appended here are force-deleted after the test, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        _force_delete(incus, name)


@pytest.fixture
def new_name(cleanup_instances: list[str]) -> Callable[[], str]:
    """Make a unique container name that is cleaned up after the test."""

    def make() -> str:
        name = unique_name()
        cleanup_instances.append(name)
        return name

    return make


def _force_delete(client: Client, name: str) -> None:
    with contextlib.suppress(IncusError):
        client.sync("PUT", f"/instances/{name}/state", {"action": "stop", "force": True},
                    timeout=60)
    with contextlib.suppress(NotFound):
        client.sync("DELETE", f"/instances/{name}", timeout=60)


@pytest.fixture(scope="module")
def shared_container(incus: Client, base_image: str) -> Iterator[str]:
    """One running container for a whole test module (for tests that only read from it
    or write below their own paths); deleted when the module is done."""
    name = unique_name()
    body = {"name": name, "source": {"type": "image", "alias": base_image}, "start": True}
    try:
        incus.sync("POST", "/instances", body, timeout=120)
        yield name
    finally:
        _force_delete(incus, name)


@pytest.fixture
def cleanup_images(incus: Client) -> Iterator[list[str]]:
    """Image fingerprints appended here are deleted after the test, whatever happened."""
    fingerprints: list[str] = []
    yield fingerprints
    for fingerprint in fingerprints:
        with contextlib.suppress(NotFound):
            incus.sync("DELETE", f"/images/{fingerprint}", timeout=60)


TEST_IMAGE = os.environ.get("COI_TEST_IMAGE", "coi-test")


@pytest.fixture(scope="session")
def test_image(incus: Client, base_image: str) -> str:
    """The slim image for session tests (code user uid 1000, sudo, tmux, perl,
    python3-minimal, dummy at /usr/local/bin/dummy), made by coi's own builder from
    `coi-base`. Built once per machine and reused until its recipe or base changes
    (~10 s when it must be built); parallel workers take turns on a lock, so only one
    builds. Returns the alias."""
    from coi.errors import CoiError
    from coi.images.plans import ensure_test_image

    try:
        return ensure_test_image(incus, TEST_IMAGE, base_image).alias
    except CoiError as exc:
        pytest.fail(f"cannot build the test image {TEST_IMAGE}: {exc}", pytrace=False)
