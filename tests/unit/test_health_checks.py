"""Each health check against a fake daemon and temp files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coi.errors import IncusPermissionDenied, IncusUnreachable
from coi.host import health_daemon as d
from coi.host import health_local as h
from coi.host.health import Status
from coi.host.health_probe import Probe
from coi.host.invoker import User
from coi.incus.transport import Endpoint
from tests.unit.test_host_fakes import ALICE, ROOT, FakeClient, server, standard_objects


def probe(objects: dict[str, Any] | None = None, info: Any = None, user: Any = ROOT,
          **paths: Path) -> Probe:
    client = FakeClient(standard_objects() if objects is None else objects, info)
    return Probe(client, user, **paths)  # type: ignore[arg-type]


def test_a_standard_host_passes_the_daemon_checks() -> None:
    p = probe()
    for check in (d.check_incus, d.check_storage, d.check_network, d.check_profile,
                  d.check_containers):
        assert check(p).status is Status.OK, check.__name__
        assert check(p).fix is None


def test_daemon_down_fails_every_daemon_check_with_a_pointer() -> None:
    p = probe(info=IncusUnreachable("cannot reach the Incus daemon", hint="run coi setup"))
    incus = d.check_incus(p)
    assert incus.status is Status.FAIL and incus.fix == "run coi setup"
    for check in (d.check_storage, d.check_network, d.check_profile, d.check_images,
                  d.check_containers):
        res = check(p)
        assert res.status is Status.FAIL and res.fix == d.DAEMON_FIX


def test_permission_denied_is_reported_with_its_hint() -> None:
    p = probe(info=IncusPermissionDenied("permission denied", hint="join incus-admin"))
    assert d.check_incus(p).fix == "join incus-admin"


def test_old_incus_fails() -> None:
    assert d.check_incus(probe(info=server(version="5.0.2"))).status is Status.FAIL


def test_dir_pool_is_degraded_with_a_hint_and_a_missing_pool_fails() -> None:
    objects = standard_objects()
    objects["/storage-pools/default"]["driver"] = "dir"
    res = d.check_storage(probe(objects))
    assert res.status is Status.WARN and "btrfs" in (res.fix or "")
    del objects["/storage-pools/default"]
    assert d.check_storage(probe(objects)).status is Status.FAIL


def test_network_without_nat_warns_and_without_ipv4_fails() -> None:
    objects = standard_objects()
    objects["/networks/incusbr0"]["config"]["ipv4.nat"] = "false"
    assert d.check_network(probe(objects)).status is Status.WARN
    objects["/networks/incusbr0"]["config"]["ipv4.address"] = "none"
    assert d.check_network(probe(objects)).status is Status.FAIL


def test_profile_without_eth0_fails() -> None:
    objects = standard_objects()
    del objects["/profiles/default"]["devices"]["eth0"]
    res = d.check_profile(probe(objects))
    assert res.status is Status.FAIL and "eth0 on none" in res.message


@pytest.mark.parametrize(("aliases", "status"), [
    (("coi-base", "coi"), Status.OK), (("coi-base",), Status.WARN), (("coi",), Status.WARN),
    ((), Status.FAIL)])
def test_images(aliases: tuple[str, ...], status: Status) -> None:
    objects = {k: v for k, v in standard_objects().items() if "/images/" not in k}
    for alias in aliases:
        objects[f"/images/aliases/{alias}"] = {"name": alias, "target": "f" * 64}
    res = d.check_images(probe(objects))
    assert res.status is status
    if aliases == ("coi-base",):
        assert res.fix == "run `coi build`"


def test_containers_counts_only_coi_ones() -> None:
    objects = standard_objects()
    objects["/instances/coi-a"] = {"name": "coi-a", "status": "Running"}
    objects["/instances/coi-b"] = {"name": "coi-b", "status": "Stopped"}
    objects["/instances/web"] = {"name": "web", "status": "Running"}
    res = d.check_containers(probe(objects))
    assert res.details == {"running": 1, "total": 2, "names": ["coi-a"]}


def subid_files(tmp_path: Path, text: str) -> dict[str, Path]:
    for name in ("subuid", "subgid"):
        (tmp_path / name).write_text(text)
    return {"subuid": tmp_path / "subuid", "subgid": tmp_path / "subgid"}


def test_idmap_levels(tmp_path: Path) -> None:
    full = subid_files(tmp_path, "root:1000000:1000000000\nroot:1000:64536\n")
    assert h.check_idmap(probe(user=ALICE, **full)).status is Status.OK
    assert h.check_idmap(probe(user=ROOT, **full)).status is Status.OK
    partial = subid_files(tmp_path, "root:1000000:1000000000\n")
    assert h.check_idmap(probe(**partial)).status is Status.WARN
    none = subid_files(tmp_path, "alice:100000:65536\n")
    res = h.check_idmap(probe(**none))
    assert res.status is Status.FAIL and "cannot start" in res.message


def test_idmap_warns_for_a_user_outside_the_granted_range(tmp_path: Path) -> None:
    files = subid_files(tmp_path, "root:1000000:1000000000\nroot:1000:64536\n")
    odd = User("svc", 70000, 70000, Path("/"))
    res = h.check_idmap(probe(user=odd, **files))
    assert res.status is Status.WARN and "root:70000:1" in (res.fix or "")


def cgroups(tmp_path: Path, v2: str | None, v1: tuple[str, ...] = ()) -> dict[str, Path]:
    root = tmp_path / "cg"
    root.mkdir()
    if v2 is not None:
        (root / "cgroup.controllers").write_text(v2)
    for name in v1:
        (root / name).mkdir()
    proc = tmp_path / "cgroups"
    proc.write_text("#subsys_name\thierarchy\tnum_cgroups\tenabled\n" +
                    "".join(f"{n}\t1\t1\t1\n" for n in v1))
    return {"cgroup_root": root, "proc_cgroups": proc}


def test_cgroup_v2_with_all_controllers_is_ok(tmp_path: Path) -> None:
    res = h.check_cgroups(probe(**cgroups(tmp_path, "cpuset cpu io memory hugetlb pids\n")))
    assert res.status is Status.OK and res.details["version"] == "v2"


def test_cgroup_v2_missing_a_controller_warns(tmp_path: Path) -> None:
    res = h.check_cgroups(probe(**cgroups(tmp_path, "cpu memory\n")))
    assert res.status is Status.WARN and "io, pids" in res.message


def test_cgroup_v1_with_all_controllers_is_ok(tmp_path: Path) -> None:
    res = h.check_cgroups(probe(**cgroups(tmp_path, None, ("cpu", "blkio", "memory", "pids"))))
    assert res.status is Status.OK
    assert res.details == {"version": "v1", "controllers": ["cpu", "io", "memory", "pids"]}


def test_socket_check(tmp_path: Path) -> None:
    p = probe()
    assert h.check_socket(p).status is Status.FAIL  # /fake/unix.socket does not exist
    sock = tmp_path / "unix.socket"
    sock.write_text("")
    p.client.endpoint = Endpoint(socket_path=str(sock))
    assert h.check_socket(p).status is Status.OK


def test_socket_through_sudo_only_warns(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sock = tmp_path / "unix.socket"
    sock.write_text("")
    p = probe(user=ALICE)
    p.client.endpoint = Endpoint(socket_path=str(sock))
    monkeypatch.setattr(h.os, "geteuid", lambda: 0)
    monkeypatch.setattr(h, "in_group", lambda user, gid: False)
    res = h.check_socket(p)
    assert res.status is Status.WARN and "usermod -aG" in (res.fix or "")


def test_socket_group_joined_after_login_says_log_in_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = tmp_path / "unix.socket"
    sock.write_text("")
    p = probe(user=ALICE)
    p.client.endpoint = Endpoint(socket_path=str(sock))
    monkeypatch.setattr(h.os, "access", lambda path, mode: False)
    monkeypatch.setattr(h, "in_group", lambda user, gid: True)
    res = h.check_socket(p)
    assert res.status is Status.FAIL and "log out and in again" in (res.fix or "")
    monkeypatch.setattr(h, "in_group", lambda user, gid: False)
    assert "usermod -aG" in (h.check_socket(p).fix or "")


def test_system_reports_os_and_kernel() -> None:
    res = h.check_system(probe())
    assert res.status is Status.OK and res.details["kernel"]
