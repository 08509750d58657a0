"""Which setup steps are needed given what the host and the daemon already have."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from coi.errors import IncusError, IncusUnreachable, SetupError
from coi.host import baseimage, inventory, packages, steps_incus, storage, subnet
from coi.host.context import Host, SetupOptions
from coi.host.osinfo import OsRelease
from coi.host.setup import build_steps
from coi.host.steps import State, run_steps
from coi.host.steps_incus import BaseImage, Daemon, Network, Pool, Profile
from coi.host.steps_system import AdminGroup, IdGrants, Packages
from tests.unit.test_host_fakes import ALICE, ROOT, FakeClient, server, standard_objects

GIB = 1024**3


def host(objects: dict[str, Any] | None = None, info: Any = None, **options: Any) -> Host:
    client = FakeClient(standard_objects() if objects is None else objects, info)
    return Host(SetupOptions(**options), client_=client, user_=ROOT)  # type: ignore[arg-type]


def fake(h: Host) -> FakeClient:
    assert isinstance(h.client, FakeClient)
    return h.client


@pytest.fixture(autouse=True)
def quiet_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real `ip`, disk or network probes from unit tests."""
    monkeypatch.setattr(subnet, "host_networks", lambda: [ipaddress.IPv4Network("10.77.0.0/24")])
    monkeypatch.setattr(storage, "free_bytes", lambda path=None: 100 * GIB)
    monkeypatch.setattr(baseimage, "remote_reachable", lambda *a, **k: False)


def test_a_standard_host_needs_nothing_from_the_daemon_steps() -> None:
    h = host()
    for step in (Daemon(h), Pool(h), Network(h), Profile(h), BaseImage(h)):
        assert step.check().done, step.name
    assert fake(h).writes() == []


def test_an_empty_daemon_gets_pool_bridge_and_profile_devices() -> None:
    h = host({"/profiles/default": {"name": "default", "config": {}, "devices": {}}})
    events = list(run_steps([Pool(h), Network(h), Profile(h)]))
    assert [e.state for e in events if e.state is not State.RUNNING] == [State.DONE] * 3
    (_, _, pool), (_, _, net), (_, path, profile) = fake(h).writes()
    assert pool == {"name": "default", "driver": "btrfs", "config": {"size": "30GiB"},
                    "description": "coi: containers and images"}
    assert net["config"] == {"ipv4.address": "10.77.1.1/24", "ipv4.nat": "true",
                             "ipv6.address": "none"}
    assert path == "/profiles/default"
    assert profile["devices"] == {
        "root": {"type": "disk", "path": "/", "pool": "default"},
        "eth0": {"type": "nic", "name": "eth0", "network": "incusbr0"}}
    assert all(step.check().done for step in (Pool(h), Network(h), Profile(h)))


def test_an_existing_pool_used_by_the_profile_is_kept() -> None:
    objects = standard_objects()
    objects["/storage-pools/tank"] = objects.pop("/storage-pools/default")
    objects["/profiles/default"]["devices"]["root"]["pool"] = "tank"
    h = host(objects)
    assert Pool(h).check().done and "tank" in Pool(h).check().message
    assert Profile(h).check().done


def test_pool_size_is_capped_and_dir_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "free_bytes", lambda path=None: 10 * GIB)
    h = host({}, pool="coi-test")
    assert "8GiB" in Pool(h).apply()
    assert fake(h).writes()[-1][2]["config"] == {"size": "8GiB"}
    d = host({}, storage="dir")
    assert "dir" in Pool(d).apply()
    assert fake(d).writes()[-1][2]["driver"] == "dir"


def test_auto_storage_falls_back_to_dir_without_btrfs() -> None:
    h = host({}, info=server(drivers=("dir",)))
    Pool(h).apply()
    assert fake(h).writes()[-1][2]["driver"] == "dir"


def test_network_plan_avoids_used_subnets_and_honours_subnet() -> None:
    objects = {"/networks/other": {"name": "other", "managed": True,
                                   "config": {"ipv4.address": "10.77.1.1/24"}}}
    h = host(objects, network="coi-br")
    assert Network(h).check().message == "create bridge coi-br on 10.77.2.0/24 (NAT, no IPv6)"
    explicit = host(objects, network="coi-br", subnet="172.30.9.0/24")
    assert "172.30.9.1/24" in Network(explicit).apply()


def test_an_unmanaged_network_of_that_name_is_an_error() -> None:
    h = host({"/networks/eth0": {"name": "eth0", "managed": False}}, network="eth0")
    with pytest.raises(SetupError, match="--network"):
        Network(h).check()


def test_profile_with_a_differently_named_root_disk_is_fixed_in_place() -> None:
    devices = {"rootfs": {"type": "disk", "path": "/", "pool": "gone"},
               "data": {"type": "disk", "path": "/data", "source": "/srv"}}
    wanted = inventory.wanted_devices(devices, "default", "incusbr0")
    assert wanted["rootfs"] == {"type": "disk", "path": "/", "pool": "default"}
    assert "root" not in wanted and wanted["data"] == devices["data"]
    assert wanted["eth0"] == {"type": "nic", "name": "eth0", "network": "incusbr0"}


def test_profile_update_keeps_config_and_other_devices() -> None:
    objects = standard_objects()
    profile = objects["/profiles/default"]
    profile["config"] = {"limits.cpu": "2"}
    profile["devices"] = {"gpu": {"type": "gpu"}}
    h = host(objects)
    assert not Profile(h).check().done
    Profile(h).apply()
    method, path, body = fake(h).writes()[-1]
    assert (method, path) == ("PUT", "/profiles/default")
    assert body["config"] == {"limits.cpu": "2"} and "gpu" in body["devices"]
    assert Profile(h).check().done


def test_a_missing_profile_is_created() -> None:
    objects = standard_objects()
    del objects["/profiles/default"]
    h = host(objects, profile="coi-test-prof")
    assert Profile(h).check().message.startswith("create profile coi-test-prof")
    Profile(h).apply()
    assert fake(h).writes()[-1][:2] == ("POST", "/profiles")


def test_daemon_down_means_start_it_and_too_old_is_an_error() -> None:
    assert not Daemon(host(info=IncusUnreachable("no socket"))).check().done
    with pytest.raises(SetupError, match="too old"):
        Daemon(host(info=server(version="5.21.1"))).check()


def test_image_present_is_never_rebuilt() -> None:
    h = host(base_source="local")
    assert BaseImage(h).check().done
    assert fake(h).writes() == []


@pytest.mark.parametrize(("source", "words"), [
    ("local", "bootstrap Debian"), ("remote", "pull debian/"), ("auto", "if reachable")])
def test_image_plan_depends_on_the_source(source: str, words: str) -> None:
    objects = standard_objects()
    del objects["/images/aliases/coi-base"]
    assert words in BaseImage(host(objects, base_source=source)).check().message


def test_auto_image_falls_back_to_local_when_the_pull_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baseimage, "remote_reachable", lambda *a, **k: True)

    def failing_pull(client: Any, spec: Any) -> str:
        raise IncusError("TLS handshake failed")

    monkeypatch.setattr(baseimage, "import_remote", failing_pull)
    monkeypatch.setattr(baseimage, "import_local", lambda client, spec: ("ab" * 32, "built"))
    assert BaseImage(host({})).apply() == "imported coi-base (abababababab): built"
    with pytest.raises(IncusError):
        BaseImage(host({}, base_source="remote")).apply()


def test_release_and_mirror_can_be_chosen() -> None:
    spec = BaseImage(host(base_release="trixie", mirror="http://m.example/d")).spec()
    assert (spec.release, spec.mirror, spec.alias) == ("trixie", "http://m.example/d",
                                                       "coi-base")


def test_id_grants_step_on_temp_files(tmp_path: Path) -> None:
    uid, gid = tmp_path / "subuid", tmp_path / "subgid"
    uid.write_text("root:1000000:1000000000\n")
    step = IdGrants(host(subuid=uid, subgid=gid))
    assert not step.check().done
    assert "root:1000:64536" in step.apply()
    assert step.check().done
    assert gid.read_text() == "root:1000:64536\nroot:1000000:1000000000\n"


def test_group_step_is_skipped_for_plain_root_and_needed_for_a_sudo_user(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import grp

    group = grp.struct_group(("incus-admin", "x", 994, ["bob"]))
    monkeypatch.setattr(grp, "getgrnam", lambda name: group)
    assert AdminGroup(host()).check().skipped
    h = host()
    h.user_ = ALICE
    verdict = AdminGroup(h).check()
    assert not verdict.done and "add alice" in verdict.message


def test_packages_step_names_what_is_missing_and_where_from(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages, "missing_tools", lambda: [packages.TOOLS[0], packages.TOOLS[2]])
    h = host()
    h.__dict__["release"] = OsRelease(id="debian", codename="bookworm")
    assert Packages(h).check().message.startswith(
        "install incus-base nftables from bookworm-backports")
    monkeypatch.setattr(packages, "missing_tools", lambda: [])
    assert Packages(h).check().done


def test_steps_come_in_dependency_order_and_the_image_is_optional() -> None:
    names = [s.name for s in build_steps(host())]
    assert names == ["packages", "idmap grants", "incus-admin group", "daemon", "storage pool",
                     "network", "profile", "sudoers", "firewall", "base image"]
    assert "base image" not in [s.name for s in build_steps(host(with_image=False))]


def test_version_parsing() -> None:
    assert steps_incus.version_tuple("6.0.4") == (6, 0, 4)
    assert steps_incus.version_tuple("6.10") > steps_incus.MIN_VERSION
