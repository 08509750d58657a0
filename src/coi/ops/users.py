"""Users and groups inside a container, read from its /etc/passwd and /etc/group.

Incus exec takes numeric ids and sets no HOME for a non-root user (and gid 0 unless told
otherwise), so `--user code` and the tmux commands look the user up here first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from coi.errors import NotFound, UsageError

if TYPE_CHECKING:
    from coi.incus.client import Client

CODE_USER = "code"
CODE_UID = 1000


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: str

    def env(self) -> dict[str, str]:
        """What a login would set; Incus sets HOME only for root."""
        return {"HOME": self.home, "USER": self.name, "LOGNAME": self.name}


def parse_passwd(text: str) -> list[User]:
    users = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[2].isdigit() and fields[3].isdigit():
            users.append(User(fields[0], int(fields[2]), int(fields[3]), fields[5] or "/"))
    return users


def parse_groups(text: str) -> dict[str, int]:
    groups = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            groups[fields[0]] = int(fields[2])
    return groups


def find_user(users: list[User], spec: str) -> User | None:
    """A user by name or uid; None for a uid with no passwd entry."""
    for user in users:
        if spec in (user.name, str(user.uid)):
            return user
    return None


def _read(client: Client, name: str, path: str) -> str:
    from coi.incus.files import read_file

    try:
        return read_file(client, name, path).decode(errors="replace")
    except NotFound:
        return ""


def lookup_user(client: Client, name: str, spec: str) -> User:
    """`spec` (a name or uid) in the container; a bare uid without an entry is allowed."""
    found = find_user(parse_passwd(_read(client, name, "/etc/passwd")), spec)
    if found is not None:
        return found
    if spec.isdigit():
        return User(spec, int(spec), 0, "/")  # as docker: gid 0
    raise UsageError(f"no user {spec!r} in {name}", hint="give a user name or a numeric uid")


def lookup_group(client: Client, name: str, spec: str) -> int:
    if spec.isdigit():
        return int(spec)
    gid = parse_groups(_read(client, name, "/etc/group")).get(spec)
    if gid is None:
        raise UsageError(f"no group {spec!r} in {name}", hint="give a group name or a gid")
    return gid


def code_user(client: Client, name: str) -> User:
    """The user coi runs tools as (`code`, normally uid 1000)."""
    found = find_user(parse_passwd(_read(client, name, "/etc/passwd")), CODE_USER)
    return found or User(CODE_USER, CODE_UID, CODE_UID, "/home/code")
