"""Setup steps that touch the host itself: packages, id grants, the admin group, sudoers."""

from __future__ import annotations

import grp
import shutil

from coi.host import packages, subids, sudoers
from coi.host.context import Host
from coi.host.daemon import ADMIN_GROUP, group_exists
from coi.host.osinfo import host_mirror
from coi.host.proc import run
from coi.host.steps import Check, Step

ROOT_EQUIVALENT = (f"{ADMIN_GROUP} is root-equivalent: its members can mount any host path "
                   "into a container")


class Packages(Step):
    """Incus (container-only daemon), nftables, btrfs-progs, mmdebstrap, dnsmasq, uidmap."""

    name = "packages"
    slow = True

    def __init__(self, host: Host) -> None:
        self.host = host

    def check(self) -> Check:
        missing = packages.missing_tools()
        if not missing:
            return Check(True, "Incus, nftables, btrfs-progs, mmdebstrap and dnsmasq are "
                               "installed")
        names = " ".join(tool.package for tool in missing)
        where = " from bookworm-backports" if packages.apt_target(self.host.release) else ""
        return Check(False, f"install {names}{where} (apt, about 30 s)")

    def apply(self) -> str:
        missing = [tool.package for tool in packages.missing_tools()]
        release, sources = self.host.release, self.host.apt_sources
        added = ""
        if packages.needs_backports(release, sources):
            packages.add_backports(host_mirror(release, sources), sources)
            added = f" (added {packages.BACKPORTS_FILE})"
        seconds = packages.install(missing, release)
        return f"installed {' '.join(missing)}{added} in {seconds:.0f} s"


class IdGrants(Step):
    """root's ranges in /etc/subuid and /etc/subgid (see coi.host.subids for why)."""

    name = "idmap grants"

    def __init__(self, host: Host) -> None:
        self.files = (host.options.subuid, host.options.subgid)

    def check(self) -> Check:
        missing = {path: subids.needed_grants(subids.parse(subids.read(path)))
                   for path in self.files}
        if not any(missing.values()):
            return Check(True, "root may map host ids 1000-65535 and a container range "
                               f"({', '.join(str(p) for p in self.files)})")
        wanted = sorted({grant.line() for grants in missing.values() for grant in grants})
        return Check(False, f"grant {', '.join(wanted)} in {' and '.join(map(str, self.files))}")

    def apply(self) -> str:
        added = sorted({g.line() for path in self.files for g in subids.ensure_grants(path)})
        # newuidmap re-reads these files at every container start: no daemon restart needed.
        return f"granted {', '.join(added)} (host uid 0 stays unmapped)"


class AdminGroup(Step):
    """The incus-admin group exists and holds the user who ran `sudo coi setup`."""

    name = "incus-admin group"

    def __init__(self, host: Host) -> None:
        self.host = host

    def check(self) -> Check:
        user = self.host.user
        try:
            group = grp.getgrnam(ADMIN_GROUP)
        except KeyError:
            return Check(False, f"create group {ADMIN_GROUP}" + (
                "" if user.is_root else f" and add {user.name} to it"))
        if user.is_root:
            return Check(True, f"group {ADMIN_GROUP} exists; run as plain root, so no user "
                               "to add (use `sudo coi setup` from your own account)",
                         skipped=True)
        if user.name in group.gr_mem or user.gid == group.gr_gid:
            return Check(True, f"{user.name} is in {ADMIN_GROUP} ({ROOT_EQUIVALENT})")
        return Check(False, f"add {user.name} to {ADMIN_GROUP}")

    def apply(self) -> str:
        user = self.host.user
        done = []
        if not group_exists():
            run(["groupadd", "--system", ADMIN_GROUP], step=self.name)
            done.append(f"created group {ADMIN_GROUP}")
        if not user.is_root:
            run(["usermod", "-aG", ADMIN_GROUP, user.name], step=self.name)
            done.append(f"added {user.name} to {ADMIN_GROUP}: log out and in again (or run "
                        f"`newgrp {ADMIN_GROUP}`) to use it.\nNote: {ROOT_EQUIVALENT}")
        return "; ".join(done)


class Sudoers(Step):
    """/etc/sudoers.d/coi: incus-admin may run nft on coi's own table, nothing else."""

    name = "sudoers"

    def check(self) -> Check:
        if not sudoers.sudo_installed():
            return Check(True, "sudo is not installed: no /etc/sudoers.d/coi (coi's firewall "
                               "rules will need root)", skipped=True)
        if sudoers.current() == sudoers.sudoers_text():
            return Check(True, f"{sudoers.SUDOERS_FILE} lets {ADMIN_GROUP} run nft on table "
                               f"{sudoers.NFT_TABLE}")
        return Check(False, f"write {sudoers.SUDOERS_FILE} (checked with visudo): "
                            f"{ADMIN_GROUP} may run nft on table {sudoers.NFT_TABLE} only")

    def apply(self) -> str:
        visudo = shutil.which("visudo", path="/usr/sbin:/sbin:/usr/bin") or "visudo"
        sudoers.install(sudoers.sudoers_text(), visudo=visudo)
        return f"wrote {sudoers.SUDOERS_FILE}: {ADMIN_GROUP} may run nft on table " \
               f"{sudoers.NFT_TABLE} without a password"


class FirewallTable(Step):
    """coi's own nftables table (`inet coi`) with its base chains, made as root so that
    non-root users' sessions find them; it does not survive a reboot, `coi setup` again
    (or the first root session) recreates it."""

    name = "firewall"

    def check(self) -> Check:
        from coi.network import plan
        from coi.network.nft import Nft

        if shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
            return Check(False, "install nftables and create coi's table inet coi")
        missing = plan.skeleton(Nft().list_table())
        if not missing:
            return Check(True, "nftables table inet coi with its base chains")
        return Check(False, "create nftables table inet coi (forward and input base chains)")

    def apply(self) -> str:
        from coi.network.firewall import prepare_table

        prepare_table()
        return "created nftables table inet coi (forward and input base chains)"
