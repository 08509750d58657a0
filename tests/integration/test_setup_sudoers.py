"""The sudoers entry coi setup writes, checked by real sudo inside a container.

The host may not have sudo (this one does not), but coi-base does: install the entry
there, validate it with visudo, and ask sudo which nft commands a member of incus-admin
may run (`sudo -l -U alice <command>` exits 0 only for allowed commands).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest

from coi.host import sudoers
from coi.incus.client import Client
from tests.unit.test_host_sudoers import ALLOWED, REFUSED

PREPARE = """set -e
groupadd -f incus-admin
id alice >/dev/null 2>&1 || useradd -m -G incus-admin alice
id bob >/dev/null 2>&1 || useradd -m bob
printf '#!/bin/sh\\nexit 0\\n' > /usr/sbin/nft
chmod 755 /usr/sbin/nft
"""
# Ask about every case in one exec: one line of "<status> <args>" per case.
ASK = 'while IFS= read -r args; do eval "set -- $args"; ' \
      'sudo -l -U "$USER_NAME" /usr/sbin/nft "$@" >/dev/null 2>&1; echo "$? $args"; done'


def incus_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["incus", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)


def shell_words(args: str) -> str:
    """`args` as one shell line that `eval set --` splits back into the same words."""
    return " ".join("'" + word.replace("'", "'\\''") + "'" for word in args.split(" "))


@pytest.fixture
def container(incus: Client, base_image: str, new_name: Callable[[], str]) -> str:
    name = new_name()
    incus.sync("POST", "/instances", {"name": name, "source": {"type": "image",
                                                               "alias": base_image},
                                      "start": True}, timeout=300)
    deadline = time.monotonic() + 60
    while incus_cli("exec", name, "--", "true").returncode != 0:
        assert time.monotonic() < deadline, "container did not start"
        time.sleep(0.5)
    prepared = incus_cli("exec", name, "--", "sh", "-c", PREPARE)
    assert prepared.returncode == 0, prepared.stderr
    return name


def ask(container: str, user: str, cases: list[str]) -> dict[str, bool]:
    lines = "\n".join(shell_words(args) for args in cases if "\n" not in args) + "\n"
    out = incus_cli("exec", container, "--env", f"USER_NAME={user}", "--", "sh", "-c", ASK,
                    stdin=lines)
    assert out.returncode == 0, out.stderr
    answers = {}
    for line in out.stdout.splitlines():
        status, _, args = line.partition(" ")
        answers[" ".join(w.strip("'") for w in args.split(" "))] = status == "0"
    return answers


def test_sudo_allows_exactly_coi_table_commands(container: str) -> None:
    pushed = incus_cli("file", "push", "-", f"{container}/etc/sudoers.d/coi", "--mode", "0440",
                       "--uid", "0", "--gid", "0", stdin=sudoers.sudoers_text("/usr/sbin/nft"))
    assert pushed.returncode == 0, pushed.stderr
    checked = incus_cli("exec", container, "--", "visudo", "-c")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    alice = ask(container, "alice", ALLOWED + REFUSED)
    assert [a for a in ALLOWED if not alice[a]] == []
    assert [r for r in REFUSED if "\n" not in r and alice[r]] == []
    bob = ask(container, "bob", ALLOWED[:3])
    assert not any(bob.values()), "a user outside incus-admin must get nothing"
