"""Credential isolation against a real container and the real daemon's profiles."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

from coi.errors import IncusError, PolicyError
from coi.incus.client import Client
from coi.security import credentials as cred
from tests.integration.test_protect_support import container, sh

CANARY = "COI_SP_CANARY_" + uuid.uuid4().hex[:6].upper()


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    value = uuid.uuid4().hex
    monkeypatch.setenv(CANARY, value)
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/ssh-canary.sock")
    return value


def test_host_environment_stays_out(incus: Client, canary: str) -> None:
    env = cred.container_env(os.environ, forward=["COI_SP_ABSENT"])
    config = cred.instance_config()
    with container(incus, 0, {}, config) as name:
        out = sh(incus, name, "env; ls -a /home/code", root=False, env=env).stdout.decode()
        assert canary not in out and CANARY not in out
        assert "SSH_AUTH_SOCK" not in out and ".ssh" not in out
        assert "HOME=/home/code" in out
        guest = sh(incus, name, "test -e /dev/incus/sock || test -e /dev/lxd/sock")
        assert guest.exit_code != 0, "the guest API socket must be absent"


def test_forwarding_by_name_works(incus: Client, canary: str) -> None:
    env = cred.container_env(os.environ, forward=[CANARY])
    with container(incus, 0, {}, cred.instance_config()) as name:
        assert canary.encode() in sh(incus, name, "env", root=False, env=env).stdout


@contextlib.contextmanager
def _profile(client: Client, config: dict[str, str]) -> Iterator[str]:
    name = f"coi-sp{uuid.uuid4().hex[:8]}"
    client.sync("POST", "/profiles", {"name": name, "config": config, "devices": {}})
    try:
        yield name
    finally:
        with contextlib.suppress(IncusError):
            client.sync("DELETE", f"/profiles/{name}")


def test_privileged_profile_is_refused(incus: Client) -> None:
    with _profile(incus, {"security.privileged": "true"}) as name, \
            pytest.raises(PolicyError, match=f"{name} sets security.privileged"):
        cred.check_profiles(incus, ["default", name])
    cred.check_profiles(incus, ["default"])
