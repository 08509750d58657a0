"""The one way coi runs `nft`: as root one atomic transaction per change, else through
the narrow sudo path of `coi.host.sudoers`, one command per call.

As root a change is `nft -f -` with every command on its own line: the kernel applies
all or nothing. Without root, sudoers allows no `-f` (a file could name any table), so
each command runs as `sudo -n /usr/sbin/nft <words>`; coi orders them so every
intermediate state is at least as strict as the end state (see `plan`).

Creating a base chain needs `;` (`{ type filter hook forward priority filter ; }`):
`coi.host.sudoers.BASE_CHAIN_PATTERN` allows exactly that fixed shape and nothing more.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from coi.errors import PolicyError
from coi.host.sudoers import nft_path
from coi.network.rules import TABLE
from coi.network.table import TableState, parse

TIMEOUT = 20.0
OPEN_HINT = "or start the session with --network=open"


@dataclass(frozen=True)
class Output:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str], str], Output]


def run_process(argv: Sequence[str], stdin: str) -> Output:
    proc = subprocess.run(list(argv), input=stdin, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False, errors="replace")
    return Output(proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class Nft:
    """`sudo` None means: use sudo unless this process is root."""

    binary: str = field(default_factory=nft_path)
    sudo: bool | None = None
    runner: Runner = run_process

    @property
    def via_sudo(self) -> bool:
        return os.geteuid() != 0 if self.sudo is None else self.sudo

    def argv(self, words: Sequence[str]) -> list[str]:
        return [*(["sudo", "-n"] if self.via_sudo else []), self.binary, *words]

    def _call(self, words: Sequence[str], stdin: str = "") -> Output:
        argv = self.argv(words)
        try:
            return self.runner(argv, stdin)
        except FileNotFoundError:
            missing = argv[0]
            raise PolicyError(f"cannot run {missing}: it is not installed",
                              hint=f"install nftables{' and sudo' if self.via_sudo else ''} "
                              f"(`sudo coi setup` does), {OPEN_HINT}") from None
        except subprocess.TimeoutExpired:
            raise PolicyError(f"`{' '.join(argv)}` did not finish in {TIMEOUT:.0f} s") from None

    def list_table(self) -> TableState:
        out = self._call(["-j", "-a", "list", "table", *TABLE.split()])
        if out.returncode == 0:
            return parse(out.stdout)
        if "No such file or directory" in out.stderr:
            return TableState(False)
        raise self._error("list table inet coi", out)

    def apply(self, commands: Sequence[str], what: str) -> None:
        """Run `commands` (nft command lines on table inet coi), all or, without root,
        in order until one fails. PolicyError says what could not be done and why."""
        if not commands:
            return
        if not self.via_sudo:
            out = self._call(["-f", "-"], "\n".join(commands) + "\n")
            if out.returncode != 0:
                raise self._error(what, out)
            return
        for command in commands:
            out = self._call(command.split(" "))
            if out.returncode != 0:
                raise self._error(f"{what} (at `nft {command}`)", out,
                                  base_chain=" hook " in command)

    def _error(self, what: str, out: Output, base_chain: bool = False) -> PolicyError:
        detail = (out.stderr or out.stdout).strip().splitlines()
        tail = "\n".join(detail[-6:])
        refused = ("password is required", "not allowed to execute")
        if self.via_sudo and any(r in out.stderr for r in refused):
            if base_chain:
                return PolicyError(
                    f"cannot {what}: coi's base chains are missing and sudo may not "
                    "create them", hint=f"run `sudo coi setup` (it creates them), {OPEN_HINT}")
            return PolicyError(
                f"cannot {what}: sudo may not run nft for this user",
                hint="run `sudo coi setup` (it installs /etc/sudoers.d/coi) and make sure "
                f"you are in the incus-admin group, {OPEN_HINT}")
        return PolicyError(f"cannot {what}: nft failed with exit status {out.returncode}"
                           + (f"\n{tail}" if tail else ""),
                           hint=f"see docs/network.md, {OPEN_HINT}")
