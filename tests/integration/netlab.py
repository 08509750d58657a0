"""A network lab for the isolation tests, in which nothing can leave this machine.

Every private or metadata address a test aims at lives in a network namespace on this
host (`coi-t<hex>`), behind a veth pair, with a /32 host route pointing into it, and a
TCP listener there. So a missing rule makes a test fail, never sends a packet out. The
host also gets listeners of its own (on the bridge gateway, and on the lab link's host
side, "another host address"). Only one lab exists at a time (a file lock), since the
metadata address cannot be in two places.

Containers are made the way a session makes them: the profile's NIC with coi's options,
rules applied before the container is created.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from coi.incus import exec as incus_exec
from coi.incus import instances
from coi.incus.client import Client
from coi.network import firewall, nic
from coi.network.firewall import Applied
from coi.network.policy import NetworkPolicy
from coi.network.resolve import Lookup, system_lookup

LOCK = "/tmp/coi-netlab.lock"
LINK_HOST, LINK_NS = "10.123.44.1", "10.123.44.2"
BLOCKED = {
    "rfc1918-10": "10.123.45.1",
    "rfc1918-172": "172.31.77.1",
    "rfc1918-192": "192.168.213.1",
    "cgnat": "100.100.77.1",
    "metadata": "169.254.169.254",
}
# An address of no blocked range (TEST-NET-2), standing in for "somewhere on the
# internet that is not on the allowlist"; it lives in the namespace like the others.
PUBLIC = "198.51.100.7"
TARGETS = {**BLOCKED, "public": PUBLIC}
NS_PORT = 8080
GREETING = b"hello"
SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64)
while True:
    c, _ = s.accept(); c.sendall(b"hello\\n"); c.close()
"""


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {out.stderr.strip()}")
    return out


def _in_use(nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> list[str]:
    routes = json.loads(sh("ip", "-j", "-4", "route", "show", "table", "all").stdout)
    used = []
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("default", "") or not dst[0].isdigit():
            continue
        net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        used += [str(net) for n in nets if n.version == net.version and n.overlaps(net)]
    return used


class HostListener:
    """A TCP listener in this process on one of the host's own addresses."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.address, self.port = address, self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.sendall(GREETING + b"\n")
            conn.close()

    def close(self) -> None:
        self.sock.close()


@dataclass
class Lab:
    namespace: str
    host_if: str
    gateway: HostListener
    other_host: HostListener
    server: subprocess.Popen[bytes]


@contextmanager
def lab(gateway: str) -> Iterator[Lab]:
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield from _lab(gateway)


def _lab(gateway: str) -> Iterator[Lab]:
    nets = [ipaddress.ip_network(f"{a}/32") for a in TARGETS.values()]
    nets.append(ipaddress.ip_network(f"{LINK_HOST}/30", strict=False))
    busy = _in_use(nets)
    if busy:
        raise RuntimeError(f"lab addresses are routed on this host already: {busy}")
    tag = uuid.uuid4().hex[:6]
    ns, host_if, ns_if = f"coi-t{tag}", f"ctl{tag}h", f"ctl{tag}n"
    made: list[list[str]] = []
    try:
        sh("ip", "netns", "add", ns)
        made.append(["ip", "netns", "del", ns])
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        made.append(["ip", "link", "del", host_if])
        sh("ip", "link", "set", ns_if, "netns", ns)
        sh("ip", "addr", "add", f"{LINK_HOST}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        inside = ["ip", "netns", "exec", ns]
        sh(*inside, "ip", "addr", "add", f"{LINK_NS}/30", "dev", ns_if)
        sh(*inside, "ip", "link", "set", ns_if, "up")
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "route", "add", "default", "via", LINK_HOST)
        for address in TARGETS.values():
            sh(*inside, "ip", "addr", "add", f"{address}/32", "dev", "lo")
            sh("ip", "route", "add", f"{address}/32", "via", LINK_NS)
            made.append(["ip", "route", "del", f"{address}/32"])
        server = subprocess.Popen([*inside, sys.executable, "-c", SERVER, str(NS_PORT)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(TARGETS["metadata"], NS_PORT)
        listeners = HostListener(gateway), HostListener(LINK_HOST)
        try:
            yield Lab(ns, host_if, listeners[0], listeners[1], server)
        finally:
            for listener in listeners:
                listener.close()
            server.kill()
            server.wait(10)
    finally:
        for undo in reversed(made):
            sh(*undo, check=False)


def _wait_for(address: str, port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- containers ---------------------------------------------------------------------------


def new_name() -> str:
    return f"coi-nt{uuid.uuid4().hex[:8]}"


def profile_nic(client: Client) -> tuple[str, dict[str, str]]:
    return nic.find_nic(client.get("/profiles/default")["devices"])


def create(client: Client, name: str, image: str, *, coi_nic: bool) -> None:
    """Create and start a container (with coi's NIC, or the profile's plain one) and
    wait until it has an IPv4 address."""
    devices = None
    if coi_nic:
        dev, base = profile_nic(client)
        devices = {dev: nic.nic_device(base, name)}
    instances.create(client, name, image=image, devices=devices, start=True, timeout=120)
    deadline = time.monotonic() + 30
    while not instances.state(client, name).ipv4:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} got no IPv4 address")
        time.sleep(0.2)


def target(client: Client, name: str) -> nic.Target:
    _, base = profile_nic(client)
    return nic.Target.for_container(name, nic.bridge(client, base["network"]))


def apply(client: Client, name: str, policy: NetworkPolicy,
          lookup: Lookup = system_lookup) -> Applied:
    return firewall.apply(target(client, name), policy, lookup=lookup)


@dataclass(frozen=True)
class Attempt:
    ok: bool
    seconds: float
    exit_code: int
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.exit_code == 124


def connect(client: Client, name: str, host: str, port: int, *, timeout: float = 5,
            greeting: bool = True) -> Attempt:
    """A TCP connect from inside `name`; with `greeting`, it counts only if the lab
    listener's greeting comes back (else: if the connection opens)."""
    script = f"exec 3<>/dev/tcp/{host}/{port}" + (" && head -c 5 <&3" if greeting else "")
    started = time.monotonic()
    result = incus_exec.run(client, name, ["timeout", str(timeout), "bash", "-c", script],
                            timeout=timeout + 15)
    ok = result.stdout == GREETING if greeting else result.exit_code == 0
    return Attempt(ok, time.monotonic() - started, result.exit_code,
                   result.stderr.decode(errors="replace").strip())


def listen_in(client: Client, name: str, port: int) -> None:
    """A dual-stack TCP listener inside a container (perl: an image without python
    has it too)."""
    perl = ("use IO::Socket::IP; my $s = IO::Socket::IP->new(LocalHost => '::', "
            f"LocalPort => {port}, Listen => 16, ReuseAddr => 1, V6Only => 0) or die $!; "
            "while (my $c = $s->accept) { print $c 'hello'; close $c }")
    background = 'nohup perl -e "$1" </dev/null >/dev/null 2>&1 &'
    incus_exec.run(client, name, ["bash", "-c", background, "listen", perl], timeout=15)
    deadline = time.monotonic() + 10
    while incus_exec.run(client, name, ["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"],
                         timeout=15).exit_code != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no listener on port {port} in {name}")
        time.sleep(0.1)


def link_local(client: Client, name: str) -> str:
    nics = instances.state(client, name).network
    return next(a.address for a in nics["eth0"].addresses
                if a.family == "inet6" and a.scope == "link")
