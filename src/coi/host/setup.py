"""`coi setup` as data: the ordered steps for a host, and running them."""

from __future__ import annotations

from collections.abc import Iterator

from coi.host.context import Host, SetupOptions
from coi.host.steps import Step, StepEvent, run_steps
from coi.host.steps_incus import BaseImage, Daemon, Network, Pool, Profile
from coi.host.steps_system import AdminGroup, FirewallTable, IdGrants, Packages, Sudoers


def build_steps(host: Host) -> list[Step]:
    """In dependency order: grants and the group exist before the daemon starts (it reads
    the id ranges and owns its socket by group at start), the pool and bridge before the
    profile that points at them, everything before the image."""
    steps: list[Step] = [
        Packages(host), IdGrants(host), AdminGroup(host), Daemon(host),
        Pool(host), Network(host), Profile(host), Sudoers(), FirewallTable(),
    ]
    if host.options.with_image:
        steps.append(BaseImage(host))
    return steps


def run_setup(options: SetupOptions, dry_run: bool = False) -> Iterator[StepEvent]:
    host = Host(options)
    try:
        yield from run_steps(build_steps(host), dry_run=dry_run)
    finally:
        host.close()
