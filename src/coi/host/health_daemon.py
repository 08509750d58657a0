"""`coi health` checks that ask the Incus daemon: version, pool, bridge, profile, images."""

from __future__ import annotations

from typing import Any

from coi.host import inventory
from coi.host.health import CheckResult, Status, result
from coi.host.health_probe import Probe
from coi.host.storage import is_cow
from coi.incus.client import quote

SETUP_FIX = "run `sudo coi setup`"
DAEMON_FIX = "fix the `incus` check first"
BASE_IMAGE, COI_IMAGE = "coi-base", "coi"
MIN_VERSION = (6, 0)
COW_FIX = ("make a btrfs pool and move the profile to it: `incus storage create coi btrfs "
           "size=30GiB && incus profile device set default root pool=coi`")


def daemon_down(name: str) -> CheckResult:
    return result(name, Status.FAIL, "not checked: the Incus daemon did not answer", DAEMON_FIX)


def check_incus(probe: Probe) -> CheckResult:
    where = {"endpoint": probe.client.endpoint.description}
    if not isinstance(probe.server, dict):
        return result("incus", Status.FAIL, probe.server.message,
                      probe.server.hint or SETUP_FIX, details=where)
    env = probe.server.get("environment") or {}
    version = str(env.get("server_version", "?"))
    details = {"version": version, **where, "driver": env.get("driver"),
               "firewall": env.get("firewall")}
    if tuple(int(p) for p in version.split(".") if p.isdigit()) < MIN_VERSION:
        return result("incus", Status.FAIL, f"Incus {version} is too old (coi needs 6.0+)",
                      "install Incus 6.0 LTS or newer, then `sudo coi setup`", details=details)
    return result("incus", Status.OK, f"Incus {version} on {where['endpoint']}", details=details)


def profile_uses(probe: Probe, kind: str, fallback: str) -> str:
    """The pool (kind "pool") or network the profile points at, else the standard name."""
    devices = probe.devices or {}
    if kind == "pool":
        root = inventory.root_device(devices)
        return root[1].get("pool", fallback) if root else fallback
    nic = inventory.eth0_device(devices)
    return inventory.nic_network(nic[1]) or fallback if nic else fallback


def check_storage(probe: Probe) -> CheckResult:
    if not probe.up:
        return daemon_down("storage")
    name = profile_uses(probe, "pool", "default")
    pool = probe.get(f"/storage-pools/{quote(name)}")
    if pool is None:
        return result("storage", Status.FAIL, f"no storage pool {name}", SETUP_FIX,
                      details={"pool": name})
    driver = str(pool.get("driver", "?"))
    details = {"pool": name, "driver": driver, "size": (pool.get("config") or {}).get("size")}
    if not is_cow(driver):
        return result("storage", Status.WARN, f"pool {name} uses {driver}: every launch copies "
                      "the whole image (~3 s instead of ~0.1 s)", COW_FIX, details=details)
    return result("storage", Status.OK, f"pool {name} ({driver}, copy-on-write)", details=details)


def check_network(probe: Probe) -> CheckResult:
    if not probe.up:
        return daemon_down("network")
    name = profile_uses(probe, "network", "incusbr0")
    net = probe.get(f"/networks/{quote(name)}")
    if net is None:
        return result("network", Status.FAIL, f"no network {name}", SETUP_FIX,
                      details={"network": name})
    config = net.get("config") or {}
    address, nat = config.get("ipv4.address", "none"), config.get("ipv4.nat") == "true"
    details = {"network": name, "type": net.get("type"), "ipv4": address, "nat": nat}
    if net.get("type") != "bridge" or address in ("", "none"):
        return result("network", Status.FAIL, f"{name} is not a bridge with IPv4", SETUP_FIX,
                      details=details)
    if not nat:
        return result("network", Status.WARN, f"bridge {name} ({address}) has no NAT: "
                      "containers cannot reach the internet",
                      f"`incus network set {name} ipv4.nat true`", details=details)
    return result("network", Status.OK, f"bridge {name} ({address}, NAT)", details=details)


def check_profile(probe: Probe) -> CheckResult:
    if not probe.up:
        return daemon_down("profile")
    devices = probe.devices
    if devices is None:
        return result("profile", Status.FAIL, f"no profile {probe.profile}", SETUP_FIX)
    complete = inventory.root_device(devices) and inventory.eth0_device(devices)
    status = Status.OK if complete else Status.FAIL
    return result("profile", status, f"profile {probe.profile}: {inventory.describe(devices)}",
                  SETUP_FIX, details={"devices": sorted(devices)})


def check_images(probe: Probe) -> CheckResult:
    if not probe.up:
        return daemon_down("images")
    have = {alias: probe.get(f"/images/aliases/{alias}") is not None
            for alias in (BASE_IMAGE, COI_IMAGE)}
    details: dict[str, Any] = {"present": [alias for alias, ok in have.items() if ok]}
    if not have[COI_IMAGE] and not have[BASE_IMAGE]:
        return result("images", Status.FAIL, f"no {BASE_IMAGE} and no {COI_IMAGE} image",
                      f"{SETUP_FIX}, then `coi build`", details=details)
    if not have[COI_IMAGE]:
        return result("images", Status.WARN, f"{BASE_IMAGE} present, {COI_IMAGE} missing",
                      "run `coi build`", details=details)
    if not have[BASE_IMAGE]:
        return result("images", Status.WARN, f"{COI_IMAGE} present, {BASE_IMAGE} missing "
                      "(needed to rebuild)", SETUP_FIX, details=details)
    return result("images", Status.OK, f"{BASE_IMAGE} and {COI_IMAGE} present", details=details)


def check_containers(probe: Probe) -> CheckResult:
    if not probe.up:
        return daemon_down("containers")
    instances = probe.client.get("/instances", params={"recursion": "1"}) or []
    ours = [i for i in instances if str(i.get("name", "")).startswith("coi-")]
    running = sorted(str(i["name"]) for i in ours if i.get("status") == "Running")
    return result("containers", Status.OK,
                  f"{len(running)} coi container(s) running, {len(ours)} in total",
                  details={"running": len(running), "total": len(ours), "names": running})
