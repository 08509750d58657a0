"""`coi health` checks that read the host itself: OS, socket, id grants, nft, cgroups."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from coi.host import subids, sudoers
from coi.host.health import CheckResult, Status, result
from coi.host.health_probe import Probe
from coi.host.invoker import User
from coi.host.osinfo import kernel_release, read_os_release

SETUP_FIX = "run `sudo coi setup`"
LIMIT_CONTROLLERS = ("cpu", "memory", "io", "pids")
V1_NAMES = {"blkio": "io"}  # the v1 controller that does what v2's io does
CGROUP_FIX = ("mount cgroup v2 (unified) at /sys/fs/cgroup; on systemd hosts boot with "
              "systemd.unified_cgroup_hierarchy=1")
SBIN = "/usr/sbin:/sbin"


def check_system(probe: Probe) -> CheckResult:
    release, kernel = read_os_release(), kernel_release()
    if os.uname().sysname != "Linux":
        return result("system", Status.FAIL, f"{os.uname().sysname} is not Linux",
                      "run coi inside a Linux VM (Colima or Lima on macOS)")
    return result("system", Status.OK, f"{release.pretty_name}, kernel {kernel}",
                  details={"os": release.pretty_name, "kernel": kernel,
                           "arch": os.uname().machine})



def in_group(user: User, gid: int) -> bool:
    """Membership as /etc/group says, which a login session only picks up when it starts."""
    try:
        return user.gid == gid or user.name in grp.getgrgid(gid).gr_mem
    except KeyError:
        return False


def check_socket(probe: Probe) -> CheckResult:
    path = probe.client.endpoint.socket_path
    if path is None:
        return result("socket", Status.OK, "remote daemon over HTTPS (no local socket)")
    try:
        gid = os.stat(path).st_gid
    except OSError:
        return result("socket", Status.FAIL, f"{path} does not exist (daemon not running)",
                      SETUP_FIX, details={"path": path})
    user = probe.user
    details = {"path": path, "group": group_name(gid), "user": user.name}
    join = f"`sudo usermod -aG {details['group']} {user.name}`, then log out and in again"
    if not os.access(path, os.R_OK | os.W_OK):
        if in_group(user, gid):
            return result("socket", Status.FAIL, f"{user.name} joined {details['group']} after "
                          "this session started", f"log out and in again (or `newgrp "
                          f"{details['group']}`)", details=details)
        return result("socket", Status.FAIL, f"{user.name} may not use {path}", join,
                      details=details)
    if user.uid != os.geteuid() and not user.is_root and not in_group(user, gid):
        return result("socket", Status.WARN, f"{user.name} can use {path} only through sudo",
                      join, details=details)
    return result("socket", Status.OK, f"{user.name} may use {path}", details=details)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def check_idmap(probe: Probe) -> CheckResult:
    uids = subids.parse(subids.read(probe.subuid))
    gids = subids.parse(subids.read(probe.subgid))
    details = {"subuid": [e.line() for e in subids.owned(uids)],
               "subgid": [e.line() for e in subids.owned(gids)]}
    if not (subids.has_container_range(uids) and subids.has_container_range(gids)):
        return result("idmap", Status.FAIL, "root has no container id range in "
                      f"{probe.subuid} / {probe.subgid}: containers cannot start",
                      SETUP_FIX, details=details)
    if not (subids.covers(uids, *subids.USER_RANGE) and subids.covers(gids, *subids.USER_RANGE)):
        return result("idmap", Status.WARN, "root may not map user ids 1000-65535: files "
                      "shared with containers may show the wrong owner", SETUP_FIX,
                      details=details)
    user = probe.user
    if user.is_root:
        return result("idmap", Status.OK, "user ids 1000-65535 granted; host root stays "
                      "unmapped by design", details=details)
    if not (subids.covers(uids, user.uid, 1) and subids.covers(gids, user.gid, 1)):
        return result("idmap", Status.WARN, f"uid {user.uid} / gid {user.gid} not granted",
                      f"add root:{user.uid}:1 to {probe.subuid} and root:{user.gid}:1 to "
                      f"{probe.subgid}", details=details)
    return result("idmap", Status.OK, f"user ids 1000-65535 granted (you: {user.uid})",
                  details=details)


def check_nftables(probe: Probe) -> CheckResult:
    nft = shutil.which("nft") or shutil.which("nft", path=SBIN)
    if nft is None:
        return result("nftables", Status.FAIL, "nft is not installed", SETUP_FIX)
    try:
        listed = subprocess.run([nft, "list", "tables"], capture_output=True, timeout=3,
                                check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        listed = False
    details = {"nft": nft, "direct": listed, "sudoers": sudoers.SUDOERS_FILE.exists()}
    if listed:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return result("nftables", Status.OK, f"{nft} can list rules (as {me})",
                      details=details)
    if details["sudoers"]:
        return result("nftables", Status.OK, f"nft runs through sudo ({sudoers.SUDOERS_FILE})",
                      details=details)
    if shutil.which("sudo") is None:
        return result("nftables", Status.WARN, "nft needs root and sudo is not installed: "
                      "network policies need coi to run as root",
                      f"install sudo, then {SETUP_FIX}", details=details)
    return result("nftables", Status.WARN, f"nft needs root and {sudoers.SUDOERS_FILE} is "
                  "missing", SETUP_FIX, details=details)


def cgroup_layout(root: Path, proc_cgroups: Path) -> tuple[str, list[str]]:
    """("v2", controllers) on a unified host; ("hybrid" | "v1", enabled v1 controllers)."""
    try:
        return "v2", (root / "cgroup.controllers").read_text().split()
    except OSError:
        pass
    enabled = []
    for raw in proc_cgroups.read_text().splitlines()[1:]:
        fields = raw.split()
        if len(fields) == 4 and fields[3] == "1" and (root / fields[0]).is_dir():
            enabled.append(V1_NAMES.get(fields[0], fields[0]))
    return ("hybrid" if (root / "unified" / "cgroup.procs").exists() else "v1"), enabled


def check_cgroups(probe: Probe) -> CheckResult:
    try:
        layout, controllers = cgroup_layout(probe.cgroup_root, probe.proc_cgroups)
    except OSError:
        return result("cgroups", Status.WARN, "no cgroup hierarchy found: resource limits "
                      "will not apply", CGROUP_FIX)
    details = {"version": layout, "controllers": controllers}
    missing = [c for c in LIMIT_CONTROLLERS if c not in controllers]
    if missing:
        return result("cgroups", Status.WARN, f"cgroup {layout} lacks {', '.join(missing)}: "
                      "those limits will not apply", CGROUP_FIX, details=details)
    names = " ".join(c for c in controllers if c in LIMIT_CONTROLLERS)
    # v1 and hybrid layouts enforce every limit through their v1 controllers (measured on
    # a hybrid host: memory, processes, disk I/O); the `limits` check tests each one.
    return result("cgroups", Status.OK, f"cgroup {layout} ({names})", details=details)
