"""`coi health` against the real daemon: status, JSON shape, exit codes and speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from coi.host import health_daemon
from coi.host.health import run_health
from coi.host.health_probe import Probe
from coi.incus.client import Client

COI = str(Path(sys.executable).with_name("coi"))
EXIT = {"healthy": 0, "degraded": 1, "unhealthy": 2}
MONITOR_CHECKS = ("monitor-proc", "monitor-cgroup", "monitor-exec", "monitor-nflog",
                  "monitor-nft")


def health(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any, float]:
    started = time.monotonic()
    proc = subprocess.run([COI, "health", *args], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, **(env or {})})
    elapsed = time.monotonic() - started
    as_json = "--json" in args or "json" in args
    return proc.returncode, json.loads(proc.stdout) if as_json else proc.stdout, elapsed


def test_a_set_up_host_is_healthy_or_degraded_with_a_cow_pool(incus: Client) -> None:
    code, doc, _ = health("--json")
    assert doc["status"] in ("healthy", "degraded"), doc
    assert code == EXIT[doc["status"]]
    checks = {c["name"]: c for c in doc["checks"]}
    assert set(checks) == {"system", "incus", "socket", "storage", "network", "profile",
                           "idmap", "nftables", "firewall", "isolation", "images",
                           "containers", "cgroups", "limits", *MONITOR_CHECKS}
    for check in doc["checks"]:
        assert set(check) == {"name", "status", "message", "fix", "details"}
        assert check["status"] in ("ok", "warn", "fail")
        assert (check["fix"] is None) == (check["status"] == "ok"), check
    assert checks["incus"]["status"] == "ok"
    assert checks["storage"]["details"]["driver"] in ("btrfs", "zfs", "lvm")
    assert checks["storage"]["status"] == "ok"
    assert checks["images"]["status"] in ("ok", "warn")
    assert "coi-base" in checks["images"]["details"]["present"]
    if os.geteuid() == 0:  # as root every monitoring source works on this host
        assert {checks[name]["status"] for name in MONITOR_CHECKS} == {"ok"}


def test_text_and_json_agree(incus: Client) -> None:
    code_text, text, _ = health()
    code_json, doc, _ = health("--format", "json")
    assert code_text == code_json
    assert text.splitlines()[0] == f"coi health: {doc['status']}"


def test_daemon_down_is_unhealthy_and_still_reports_everything() -> None:
    missing = f"/tmp/coi-test-{uuid.uuid4().hex[:8]}.socket"
    code, doc, _ = health("--json", env={"INCUS_SOCKET": missing})
    assert (code, doc["status"]) == (2, "unhealthy")
    checks = {c["name"]: c for c in doc["checks"]}
    assert len(checks) == 14 + len(MONITOR_CHECKS)
    assert checks["incus"]["status"] == "fail" and checks["incus"]["fix"]
    assert checks["system"]["status"] == "ok"


def test_a_missing_profile_is_reported_not_raised(incus: Client) -> None:
    probe = Probe(profile=f"coi-test-missing-{uuid.uuid4().hex[:4]}")
    try:
        result = health_daemon.check_profile(probe)
    finally:
        probe.close()
    assert result.status == "fail" and "no profile" in result.message


def test_health_is_fast(incus: Client) -> None:
    run_health()  # warm the page cache
    started = time.monotonic()
    run_health()
    in_process = time.monotonic() - started
    _, _, whole_command = health("--json")
    # Measured here: ~13 ms in process, ~95 ms for the whole command; budget 300 ms.
    assert in_process < 0.3, f"health checks took {in_process * 1000:.0f} ms"
    assert whole_command < 1.0, f"`coi health` took {whole_command * 1000:.0f} ms"
