"""The host facts config loading depends on, gathered in one injectable value.

Tests build a ConfigContext by hand, so they never read the real home directory, /etc or
environment. Under `sudo coi`, the user config is the invoking user's (SUDO_USER), and
files `coi config set` creates are handed back to that user.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

SYSTEM_CONFIG_FILE = Path("/etc/coi/config.toml")
USER_CONFIG_RELATIVE = Path(".config/coi/config.toml")
PROJECT_CONFIG_NAME = ".coi.toml"
CONFIG_FILE_ENV = "COI_CONFIG"


class ConfigContext(msgspec.Struct, frozen=True, kw_only=True):
    """`cwd` is the workspace whose `.coi.toml` applies; `owner` (uid, gid) owns new files."""

    env: Mapping[str, str]
    home: Path
    cwd: Path
    system_file: Path = SYSTEM_CONFIG_FILE
    user_file: Path | None = None
    owner: tuple[int, int] | None = None

    @classmethod
    def from_environ(cls, workspace: Path | None = None,
                     environ: Mapping[str, str] | None = None) -> ConfigContext:
        env = dict(os.environ if environ is None else environ)
        euid = os.geteuid()
        return cls(env=env, home=invoking_home(env, euid), cwd=workspace or Path.cwd(),
                   system_file=SYSTEM_CONFIG_FILE, owner=sudo_owner(env, euid))

    @property
    def user_config(self) -> Path:
        return self.user_file or self.home / USER_CONFIG_RELATIVE

    @property
    def project_config(self) -> Path:
        return self.cwd / PROJECT_CONFIG_NAME

    @property
    def explicit_config(self) -> Path | None:
        """The file $COI_CONFIG names (relative to cwd), if set."""
        value = self.env.get(CONFIG_FILE_ENV, "")
        return self.cwd / expand_user(value, self.home) if value else None


def expand_user(path: str, home: Path) -> Path:
    """Expand a leading `~` against `home` (the invoking user's, even under sudo)."""
    if path == "~" or path.startswith("~/"):
        return home / path[2:]
    return Path(os.path.expanduser(path))


def invoking_home(env: Mapping[str, str], euid: int,
                  getpwnam: Callable[[str], Any] | None = None) -> Path:
    """The home of the user who ran coi, seeing through `sudo`."""
    sudo_user = env.get("SUDO_USER", "")
    if euid == 0 and sudo_user not in ("", "root"):
        try:
            return Path((getpwnam or pwd.getpwnam)(sudo_user).pw_dir)
        except KeyError:
            pass  # an unknown SUDO_USER: fall back to root's own home below
    if env.get("HOME"):
        return Path(env["HOME"])
    return Path(pwd.getpwuid(euid).pw_dir)


def sudo_owner(env: Mapping[str, str], euid: int) -> tuple[int, int] | None:
    """(uid, gid) of the sudo caller when running as root through sudo, else None."""
    if euid != 0:
        return None
    try:
        uid, gid = int(env["SUDO_UID"]), int(env["SUDO_GID"])
    except (KeyError, ValueError):
        return None
    return (uid, gid) if uid != 0 else None
