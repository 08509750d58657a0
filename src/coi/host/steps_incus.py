"""Setup steps that talk to the Incus daemon: start it, pool, bridge, profile, base image."""

from __future__ import annotations

import ipaddress

from coi.errors import IncusError, SetupError
from coi.host import baseimage, daemon, inventory, storage, subnet
from coi.host.context import Host
from coi.host.osinfo import base_mirror, base_release
from coi.host.steps import Check, Step
from coi.incus.client import quote

MIN_VERSION = (6, 0)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


class Daemon(Step):
    """incusd runs and answers on its unix socket."""

    name = "daemon"

    def __init__(self, host: Host) -> None:
        self.host = host

    def check(self) -> Check:
        info = daemon.answer(self.host.client)
        if info is None:
            how = "systemd" if daemon.systemd_is_init() else f"pid file {daemon.PID_FILE}"
            return Check(False, f"start the Incus daemon ({how}) and wait until it answers")
        version = str((info.get("environment") or {}).get("server_version", "?"))
        if version_tuple(version) < MIN_VERSION:
            raise SetupError(f"Incus {version} is too old: coi needs 6.0 or newer",
                             hint="install Incus 6.0 LTS (on Debian 12: from bookworm-backports)")
        return Check(True, f"Incus {version} answers on {self.host.client.endpoint.description}")

    def apply(self) -> str:
        return daemon.start(self.host.client)


class Pool(Step):
    """A storage pool for the profile's root disk: btrfs on a loop file unless told."""

    name = "storage pool"

    def __init__(self, host: Host) -> None:
        self.host = host

    def target(self) -> str:
        opts = self.host.options
        return inventory.pool_in_use(self.host.client, opts.profile, opts.pool)

    def check(self) -> Check:
        name = self.target()
        pool = inventory.get_or_none(self.host.client, f"/storage-pools/{quote(name)}")
        if pool is not None:
            size = (pool.get("config") or {}).get("size")
            return Check(True, f"storage pool {name} ({pool.get('driver')}"
                               f"{', ' + size if size else ''})")
        opts = self.host.options
        kind = "btrfs if available" if opts.storage == "auto" else opts.storage
        return Check(False, f"create storage pool {name} ({kind}, up to {opts.storage_size})")

    def apply(self) -> str:
        client, opts, name = self.host.client, self.host.options, self.target()
        driver = storage.choose_driver(opts.storage, storage.supported_drivers(
            client.server_info()))
        size = 0 if driver == "dir" else storage.fit_size(
            storage.parse_size(opts.storage_size), storage.free_bytes())
        client.sync("POST", "/storage-pools", storage.pool_request(name, driver, size),
                    timeout=300, context=f"create storage pool {name}")
        if driver == "dir":
            return (f"created storage pool {name} (dir: every launch copies the image; "
                    "btrfs makes that ~30x faster)")
        return f"created storage pool {name} ({driver}, {storage.format_size(size)} loop file)"


class Network(Step):
    """A managed bridge with NAT on an IPv4 /24 nothing else on the host uses."""

    name = "network"

    def __init__(self, host: Host) -> None:
        self.host = host

    def target(self) -> str:
        opts = self.host.options
        return inventory.network_in_use(self.host.client, opts.profile, opts.network)

    def check(self) -> Check:
        name = self.target()
        net = inventory.get_or_none(self.host.client, f"/networks/{quote(name)}")
        if net is None:
            return Check(False, f"create bridge {name} on {self.subnet()} (NAT, no IPv6)")
        if not net.get("managed"):
            raise SetupError(f"network {name} exists but Incus does not manage it",
                             hint="pick another name with `--network NAME`")
        address = (net.get("config") or {}).get("ipv4.address", "none")
        return Check(True, f"bridge {name} ({address})")

    def subnet(self) -> ipaddress.IPv4Network:
        if self.host.options.subnet:  # validated by SetupOptions.validate
            return ipaddress.IPv4Network(self.host.options.subnet, strict=False)
        networks = self.host.client.get("/networks", params={"recursion": "1"})
        used = subnet.host_networks() + subnet.incus_networks_in(networks or [])
        return subnet.choose_subnet(used)

    def apply(self) -> str:
        name, net = self.target(), self.subnet()
        body = {"name": name, "type": "bridge", "config": subnet.bridge_config(net),
                "description": "coi: container network"}
        self.host.client.sync("POST", "/networks", body, timeout=120,
                              context=f"create network {name}")
        return f"created bridge {name} ({subnet.bridge_address(net)}, NAT, no IPv6)"


class Profile(Step):
    """The profile gives every container a root disk on the pool and eth0 on the bridge."""

    name = "profile"

    def __init__(self, host: Host) -> None:
        self.host = host

    def wanted(self) -> tuple[dict[str, dict[str, str]] | None, dict[str, dict[str, str]]]:
        client, opts = self.host.client, self.host.options
        devices = inventory.profile_devices(client, opts.profile)
        pool = inventory.pool_in_use(client, opts.profile, opts.pool)
        network = inventory.network_in_use(client, opts.profile, opts.network)
        return devices, inventory.wanted_devices(devices or {}, pool, network)

    def check(self) -> Check:
        devices, wanted = self.wanted()
        summary = inventory.describe(wanted)
        name = self.host.options.profile
        if devices is None:
            return Check(False, f"create profile {name} ({summary})")
        if devices == wanted:
            return Check(True, f"profile {name}: {summary}")
        return Check(False, f"set profile {name} devices: {summary}")

    def apply(self) -> str:
        client, name = self.host.client, self.host.options.profile
        devices, wanted = self.wanted()
        if devices is None:
            client.sync("POST", "/profiles", {"name": name, "devices": wanted,
                                              "description": "coi: root disk and network"},
                        context=f"create profile {name}")
            return f"created profile {name}"
        current = client.get(f"/profiles/{quote(name)}")
        body = {"config": current.get("config") or {}, "devices": wanted,
                "description": current.get("description", "")}
        client.sync("PUT", f"/profiles/{quote(name)}", body, context=f"update profile {name}")
        return f"profile {name} now has a root disk and eth0"


class BaseImage(Step):
    """The `coi-base` image every coi image is built from."""

    name = "base image"
    slow = True

    def __init__(self, host: Host) -> None:
        self.host = host

    def spec(self) -> baseimage.BaseSpec:
        opts, host = self.host.options, self.host
        release = opts.base_release or base_release(host.release)
        mirror = opts.mirror or base_mirror(host.release, host.apt_sources)
        return baseimage.BaseSpec(alias=opts.base_alias, release=release, mirror=mirror)

    def check(self) -> Check:
        alias = self.host.options.base_alias
        found = inventory.get_or_none(self.host.client, f"/images/aliases/{quote(alias)}")
        if found is not None:
            return Check(True, f"image {alias} ({str(found.get('target', ''))[:12]})")
        spec, source = self.spec(), self.host.options.base_source
        local = f"bootstrap Debian {spec.release} from {spec.mirror} (about 30 s)"
        remote = f"pull debian/{spec.release} from {baseimage.REMOTE_HOST}"
        plan = {"local": local, "remote": remote,
                "auto": f"{remote} if reachable, else {local}"}[source]
        return Check(False, f"{alias}: {plan}")

    def apply(self) -> str:
        spec, source = self.spec(), self.host.options.base_source
        if source == "remote" or (source == "auto" and baseimage.remote_reachable()):
            try:
                fingerprint = baseimage.import_remote(self.host.client, spec)
                return f"pulled {spec.alias} ({fingerprint[:12]}) from {baseimage.REMOTE_HOST}"
            except IncusError:
                if source == "remote":
                    raise
        fingerprint, how = baseimage.import_local(self.host.client, spec)
        return f"imported {spec.alias} ({fingerprint[:12]}): {how}"
