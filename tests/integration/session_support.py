"""Helpers for the session tests (shell, run, attach, resume, persistent).

Each test gets a `Sandbox`: its own HOME (so ~/.coi is private, the real /root/.coi is
never touched), its own container prefix `coi-t<hex>-` (so it never sees another test's
or engineer's containers), and a workspace owned by the uid it asks for. Everything with
that prefix is force-deleted afterwards, and supervisors are waited for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coi.errors import IncusError, NotFound
from coi.incus import exec as incus_exec
from coi.incus import instances
from coi.incus.client import Client
from coi.session.isolation import release
from coi.session.record import SessionRecord
from coi.session.runlock import is_supervised
from coi.session.store import SessionStore
from coi.workspace import container_name

COI = str(Path(sys.executable).with_name("coi"))
CODE_UID = 1000


@dataclass
class Sandbox:
    client: Client
    image: str
    home: Path
    workspace: Path
    prefix: str
    owner: int

    @property
    def coi_home(self) -> Path:
        return self.home / ".coi"

    @property
    def store(self) -> SessionStore:
        return SessionStore(self.coi_home)

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("COI_", "SUDO_", "PYTEST_"))}
        base.update(HOME=str(self.home), COI_CONTAINER_PREFIX=self.prefix,
                    COI_IMAGE=self.image, TERM="xterm-256color")
        base.update(extra)
        return base

    def write_config(self, text: str) -> None:
        """The sandbox user's ~/.config/coi/config.toml."""
        path = self.home / ".config" / "coi" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def name(self, slot: int = 1) -> str:
        return container_name(str(self.workspace), slot, self.prefix)

    def coi(self, *args: str, input: bytes | None = None, timeout: float = 120,
            **env: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([COI, *args], cwd=self.workspace, env=self.env(**env),
                              input=input, capture_output=True, timeout=timeout, check=False)

    def ours(self) -> list[str]:
        return [i.name for i in instances.list_instances(self.client, self.prefix,
                                                         with_state=False)]

    def sessions(self, tool: str = "dummy") -> list[SessionRecord]:
        return self.store.all(tool)

    def only_session(self, tool: str = "dummy") -> SessionRecord:
        records = self.sessions(tool)
        assert len(records) == 1, records
        return records[0]

    def status(self, name: str) -> str:
        try:
            return instances.get(self.client, name).status
        except NotFound:
            return "Gone"

    def sh(self, name: str, script: str, *, root: bool = False) -> incus_exec.ExecResult:
        uid = None if root else CODE_UID
        return incus_exec.run(self.client, name, ["sh", "-c", script], user=uid, group=uid,
                              env={"HOME": "/root" if root else "/home/code"},
                              cwd="/workspace", timeout=60)

    def end_tmux(self, name: str) -> None:
        result = incus_exec.run(self.client, name,
                                ["tmux", "kill-session", "-t", f"=coi-{name}"],
                                user=CODE_UID, group=CODE_UID, env={"HOME": "/home/code"})
        assert result.exit_code == 0, result

    def screen(self, name: str) -> str:
        return self.sh(name, f"tmux capture-pane -p -t =coi-{name}:").stdout.decode()

    def wait_screen(self, name: str, text: str, timeout: float = 30) -> None:
        wait_until(lambda: text in self.screen(name), timeout, f"{text!r} on the screen")

    def wait_closed(self, name: str, timeout: float = 60) -> None:
        """Until the supervisor let go of `name` (it saved and closed the session)."""
        wait_until(lambda: not is_supervised(self.coi_home, name), timeout,
                   f"the supervisor of {name} did not finish")


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out: {what}")
        time.sleep(interval)


@contextlib.contextmanager
def sandbox(client: Client, image: str, tmp: Path, owner: int = 0) -> Iterator[Sandbox]:
    home = tmp / "home"
    home.mkdir()
    workspace = tmp / "workspace"
    workspace.mkdir()
    os.chown(workspace, owner, owner)
    box = Sandbox(client, image, home, workspace, f"coi-t{uuid.uuid4().hex[:8]}-", owner)
    try:
        yield box
    finally:
        _clean(box)


def _clean(box: Sandbox) -> None:
    names = []
    with contextlib.suppress(IncusError):
        names = box.ours()
    for name in names:
        with contextlib.suppress(IncusError):
            instances.delete(box.client, name, force=True, missing_ok=True)
    for name in names:
        _stop_supervisor(box, name)
    for name in names:  # rules and protected-path mounts of what was force-deleted
        release(box.coi_home, name)
    # The sandbox's fork server leaves within seconds once its socket is gone.
    for sock in (box.coi_home / "run").glob("forkserver-*.sock"):
        sock.unlink(missing_ok=True)


def _stop_supervisor(box: Sandbox, name: str) -> None:
    """A supervisor exits by itself once its container is gone; make sure of it."""
    deadline = time.monotonic() + 30
    while is_supervised(box.coi_home, name) and time.monotonic() < deadline:
        time.sleep(0.2)
    if is_supervised(box.coi_home, name):
        pid = _supervisor_pid(box.coi_home, name)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _supervisor_pid(coi_home: Path, name: str) -> int | None:
    import json

    path = coi_home / "run" / f"{name}.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        return int(json.loads(path.read_text())["pid"])
    return None


def host_owner(path: Path) -> tuple[int, int]:
    info = os.lstat(path)
    return info.st_uid, info.st_gid


def merged_env(env: Mapping[str, str], **extra: str) -> dict[str, str]:
    return {**env, **extra}
