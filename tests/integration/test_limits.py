"""Limits against a real container: a fork bomb and a memory hog are contained."""

from __future__ import annotations

import time

from coi import limits
from coi.config.model import Limits
from coi.incus.client import Client
from tests.integration.test_protect_support import container, sh


def test_fork_bomb_is_capped_and_the_host_answers(incus: Client) -> None:
    lim = Limits(processes=100)
    limits.validate(lim, limits.enforceable_limits())
    with container(incus, 0, {}, limits.instance_config(lim)) as name:
        bomb = "timeout 4 bash -c 'b(){ b|b & }; b' >/dev/null 2>&1; true"
        start = time.monotonic()
        sh(incus, name, f"{bomb} & sleep 2; cat /sys/fs/cgroup/pids.current "
                        "/sys/fs/cgroup/pids/pids.current 2>/dev/null; wait", root=False)
        assert time.monotonic() - start < 30
        state = incus.get(f"/instances/{name}/state")
        assert state["processes"] <= 100
        assert incus.server_info()["api_version"]  # the host still answers
        sh(incus, name, "pkill -9 -u code; true")


def test_memory_hog_is_killed(incus: Client) -> None:
    lim = Limits(memory="128MiB", memory_swap=False)
    with container(incus, 0, {}, limits.instance_config(lim)) as name:
        result = sh(incus, name, "head -c 400M /dev/zero | tail >/dev/null; echo rc=$?")
        assert b"rc=137" in result.stdout  # SIGKILL from the memory cgroup


def test_disk_limits_go_on_the_root_device(incus: Client) -> None:
    lim = Limits(disk_read="20MB")
    pool = incus.get("/profiles/default")["devices"]["root"]["pool"]
    device = limits.root_device(lim, pool)
    assert device is not None
    with container(incus, 0, {"root": device}) as name:
        out = sh(incus, name, "dd if=/dev/urandom of=/root/f bs=1M count=40 conv=fsync "
                              "2>/dev/null; dd if=/root/f of=/dev/null bs=1M iflag=direct "
                              "2>&1 | tail -1").stdout.decode()
        seconds = float(out.split(" s,")[0].rsplit(",", 1)[1])
        assert seconds > 1.5, out  # 40 MiB at 20 MB/s takes ~2 s; unthrottled ~0.05 s
