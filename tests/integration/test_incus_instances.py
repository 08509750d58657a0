"""Instances against the real daemon: one-request create, state, power, config, errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coi.errors import IncusConflict, IncusError, IncusNotFound, NotFound
from coi.incus import instances
from coi.incus.client import Client
from coi.incus.state import InstanceState


class CountingClient(Client):
    """Records every request it sends, to check how many round trips a call makes."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def raw(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        self.sent.append((method, path))
        return super().raw(method, path, body, **kwargs)


def wait_for_ipv4(client: Client, name: str, seconds: float = 20) -> InstanceState:
    deadline = time.monotonic() + seconds
    while True:
        state = instances.state(client, name)
        if state.ipv4 or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_create_and_start_is_one_request(base_image: str, new_name: Callable[[], str]) -> None:
    name = new_name()
    with CountingClient() as client:
        instances.create(client, name, image=base_image, start=True,
                         config={"user.coi.test": "yes"}, profiles=["default"])
        changes = [(m, p) for m, p in client.sent if m != "GET"]
        assert changes == [("POST", "/instances")]
        instance = instances.get(client, name)
    assert instance.running
    assert instance.config["user.coi.test"] == "yes"
    assert instance.profiles == ("default",)


def test_state_has_dhcp_address_and_host_veth(incus: Client, shared_container: str) -> None:
    state = wait_for_ipv4(incus, shared_container)
    assert state.running and state.pid > 0 and state.processes > 0
    assert state.memory_usage > 0
    assert state.ipv4, "no IPv4 address from DHCP within 20 s"
    eth0 = state.network["eth0"]
    assert eth0.host_name and Path(f"/sys/class/net/{eth0.host_name}").exists()
    assert "127.0.0.1" not in state.ipv4


def test_list_reads_state_in_one_request(incus: Client, shared_container: str) -> None:
    with CountingClient() as client:
        found = instances.list_instances(client, prefix=shared_container)
        assert client.sent == [("GET", "/instances")]
    assert [i.name for i in found] == [shared_container]
    assert found[0].state is not None and found[0].state.running
    assert instances.list_instances(incus, prefix=shared_container + "-nope") == []


def test_get_with_state(incus: Client, shared_container: str) -> None:
    instance = instances.get(incus, shared_container, with_state=True)
    assert instance.state is not None and instance.state.pid > 0


def test_power_cycle(incus: Client, base_image: str, new_name: Callable[[], str]) -> None:
    name = new_name()
    instances.create(incus, name, image=base_image, start=True)
    instances.freeze(incus, name)
    assert instances.state(incus, name).status == "Frozen"
    instances.unfreeze(incus, name)
    assert instances.state(incus, name).running
    instances.restart(incus, name, force=True)
    assert instances.state(incus, name).running
    instances.stop(incus, name, force=True)
    assert instances.state(incus, name).status == "Stopped"
    instances.start(incus, name)
    # A clean stop is a signal to systemd, which ignores it until it has booted: wait
    # for DHCP as the sign that it has.
    assert wait_for_ipv4(incus, name).ipv4
    instances.stop(incus, name, timeout=30)
    assert instances.state(incus, name).status == "Stopped"
    instances.delete(incus, name)
    with pytest.raises(IncusNotFound):
        instances.get(incus, name)


def test_force_delete_of_running_ephemeral(
    incus: Client, base_image: str, new_name: Callable[[], str]
) -> None:
    name = new_name()
    instances.create(incus, name, image=base_image, start=True, ephemeral=True)
    instances.delete(incus, name, force=True)
    with pytest.raises(NotFound):
        instances.get(incus, name)


def test_delete_running_without_force_is_refused(
    incus: Client, shared_container: str
) -> None:
    with pytest.raises(IncusError, match="running"):
        instances.delete(incus, shared_container)


def test_config_and_devices(incus: Client, shared_container: str) -> None:
    name = shared_container
    instances.update_config(incus, name, {"user.a": "1", "user.b": "2"})
    instances.update_config(incus, name, {"user.a": None})
    config = instances.get(incus, name).config
    assert "user.a" not in config and config["user.b"] == "2"
    instances.add_device(incus, name, "coi-mask", {"type": "none"})
    assert instances.get(incus, name).devices["coi-mask"] == {"type": "none"}
    instances.remove_device(incus, name, "coi-mask")
    assert "coi-mask" not in instances.get(incus, name).devices
    with pytest.raises(IncusNotFound):
        instances.remove_device(incus, name, "coi-mask")


def test_typed_errors(incus: Client, base_image: str, shared_container: str) -> None:
    with pytest.raises(IncusNotFound):
        instances.get(incus, "coi-test-does-not-exist")
    with pytest.raises(IncusNotFound):
        instances.start(incus, "coi-test-does-not-exist")
    with pytest.raises(IncusConflict):
        instances.create(incus, shared_container, image=base_image)
    with pytest.raises(IncusNotFound):
        instances.create(incus, "coi-test-no-image", image="coi-test-no-such-alias")
    instances.delete(incus, "coi-test-does-not-exist", missing_ok=True)
