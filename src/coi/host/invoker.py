"""Who runs coi: the real user behind `sudo coi …`, for group membership, config and files.

Only trusted when the process really is root: an ordinary user could set SUDO_USER to
anything, and must not be able to make coi act for someone else.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# sudo sets SUDO_USER; doas sets DOAS_USER. Both name the account that asked for root.
ELEVATION_VARS = ("SUDO_USER", "DOAS_USER")


@dataclass(frozen=True)
class User:
    """An account on this host."""

    name: str
    uid: int
    gid: int
    home: Path

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    @classmethod
    def from_pwd(cls, entry: pwd.struct_passwd) -> User:
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def invoking_user(environ: Mapping[str, str] | None = None, euid: int | None = None) -> User:
    """The user coi works for: SUDO_USER under sudo (when we are root), else ourselves."""
    env = os.environ if environ is None else environ
    effective = os.geteuid() if euid is None else euid
    if effective == 0:
        for var in ELEVATION_VARS:
            name = env.get(var, "")
            if name and name != "root":
                try:
                    return User.from_pwd(pwd.getpwnam(name))
                except KeyError:
                    break  # a stale or forged name: fall back to root itself
    return User.from_pwd(pwd.getpwuid(effective))


def running_as_root() -> bool:
    return os.geteuid() == 0
