"""What setup works with: the options the user chose and lazily gathered host facts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from coi.errors import UsageError
from coi.host.invoker import User, invoking_user
from coi.host.osinfo import AptSource, OsRelease, read_apt_sources, read_os_release
from coi.host.storage import parse_size
from coi.host.subids import SUBGID, SUBUID
from coi.incus.client import Client

BASE_SOURCES = ("auto", "local", "remote")
STORAGE_CHOICES = ("auto", "btrfs", "dir")


@dataclass(frozen=True)
class SetupOptions:
    """Everything `coi setup` can be told; the defaults make a standard coi host."""

    storage: str = "auto"
    storage_size: str = "30GiB"
    pool: str = "default"
    network: str = "incusbr0"
    subnet: str | None = None
    profile: str = "default"
    base_alias: str = "coi-base"
    base_source: str = "auto"
    base_release: str | None = None
    mirror: str | None = None
    with_image: bool = True
    subuid: Path = SUBUID
    subgid: Path = SUBGID

    def validate(self) -> None:
        """Catch malformed values before any step runs (UsageError, exit 2)."""
        parse_size(self.storage_size)
        if self.subnet:
            try:
                ipaddress.IPv4Network(self.subnet, strict=False)
            except ValueError:
                raise UsageError(f"not an IPv4 subnet: {self.subnet}",
                                 hint="use e.g. --subnet 10.77.0.0/24") from None


@dataclass
class Host:
    """The machine being set up. Facts are read on first use, so tests can inject them."""

    options: SetupOptions = field(default_factory=SetupOptions)
    client_: Client | None = None
    user_: User | None = None

    @cached_property
    def client(self) -> Client:
        return self.client_ or Client(timeout=120.0)

    @cached_property
    def user(self) -> User:
        return self.user_ or invoking_user()

    @cached_property
    def release(self) -> OsRelease:
        return read_os_release()

    @cached_property
    def apt_sources(self) -> list[AptSource]:
        return read_apt_sources()

    def close(self) -> None:
        """Close the daemon connection if one was opened (cached_property keeps it here)."""
        if "client" in self.__dict__:
            self.client.close()
