"""The facts `coi health` checks read, each gathered once and shared."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from coi.errors import IncusError
from coi.host import inventory, subids
from coi.host.invoker import User, invoking_user
from coi.incus.client import Client

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUPS = Path("/proc/cgroups")


class Probe:
    """Facts the checks share; the daemon's /1.0 and the profile are read once."""

    def __init__(self, client: Client | None = None, user: User | None = None, *,
                 profile: str = "default", subuid: Path = subids.SUBUID,
                 subgid: Path = subids.SUBGID, cgroup_root: Path = CGROUP_ROOT,
                 proc_cgroups: Path = PROC_CGROUPS) -> None:
        # A short timeout: health must answer quickly even when the daemon hangs.
        self.client = client or Client(timeout=3.0)
        self.user = user or invoking_user()
        self.profile = profile
        self.subuid, self.subgid = subuid, subgid
        self.cgroup_root, self.proc_cgroups = cgroup_root, proc_cgroups

    @cached_property
    def server(self) -> dict[str, Any] | IncusError:
        try:
            return self.client.server_info()
        except IncusError as exc:
            return exc

    @property
    def up(self) -> bool:
        return isinstance(self.server, dict)

    def get(self, path: str) -> Any:
        return inventory.get_or_none(self.client, path)

    @cached_property
    def devices(self) -> inventory.Devices | None:
        return inventory.profile_devices(self.client, self.profile)

    def close(self) -> None:
        self.client.close()
