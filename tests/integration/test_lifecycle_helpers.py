"""Session-like containers for the lifecycle tests, made directly with coi.incus.

Each test gets its own container prefix (`coi-m<hex>-`), HOME and workspace, so its
`--all` operations only ever see its own containers, and the real ~/.coi is untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coi.errors import IncusError, IncusUnreachable, NotFound
from coi.incus import files, instances
from coi.incus.client import Client
from coi.session.record import SessionRecord, new_session_id, now_iso
from coi.session.store import SessionStore
from coi.workspace import container_name

COI = str(Path(sys.executable).with_name("coi"))
STATE_DIR = "/home/code/.claude"  # the dummy tool's state (as claude's)
CODE_UID = 1000


@dataclass
class Sandbox:
    """A private HOME, container prefix and workspace for one test."""

    client: Client
    image: str
    home: Path
    workspace: Path
    prefix: str
    created: list[str]
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> SessionStore:
        return SessionStore(self.home / ".coi")

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COI_", "SUDO_"))}
        return env | {"HOME": str(self.home), "COI_CONTAINER_PREFIX": self.prefix,
                      **self.extra_env}

    def coi(self, *argv: str, check: bool = False,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([COI, *argv], env=self.env, cwd=self.workspace, text=True,
                                capture_output=True, stdin=subprocess.DEVNULL,
                                timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"coi {' '.join(argv)} -> {result.returncode}\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def coi_json(self, *argv: str) -> Any:
        return json.loads(self.coi(*argv, "--json", check=True).stdout)

    def session(self, slot: int = 1, *, persistent: bool = False, running: bool = True,
                marker: str | None = None) -> SessionRecord:
        """A container as `coi shell` leaves it, with the session's record in the store;
        `marker` goes into a file in the tool's state dir (to see it saved)."""
        name = container_name(str(self.workspace), slot, self.prefix)
        record = SessionRecord(
            session_id=new_session_id(), tool="dummy", workspace=str(self.workspace),
            container=name, slot=slot, persistent=persistent, image=self.image,
            created_at=now_iso())
        self.created.append(name)
        instances.create(self.client, name, image=self.image, config=keys(record),
                         start=True, timeout=240)
        self.store.write(record)
        files.mkdir(self.client, name, STATE_DIR, uid=CODE_UID, gid=CODE_UID)
        files.mkdir(self.client, name, "/workspace")
        if marker is not None:
            files.write_file(self.client, name, f"{STATE_DIR}/marker", marker.encode(),
                             uid=CODE_UID, gid=CODE_UID)
        if not running:
            instances.stop(self.client, name, force=True)
        return record

    def exists(self, name: str) -> bool:
        try:
            instances.get(self.client, name)
        except NotFound:
            return False
        return True

    def status(self, name: str) -> str:
        return instances.get(self.client, name).status

    def saved_marker(self, record: SessionRecord) -> str | None:
        path = self.store.state_dir(record.tool, record.session_id) / "marker"
        return path.read_text() if path.exists() else None

    def record(self, record: SessionRecord) -> SessionRecord:
        return self.store.load(record.tool, record.session_id)


def keys(record: SessionRecord) -> Mapping[str, str]:
    return {"user.coi.session": record.session_id, "user.coi.tool": record.tool,
            "user.coi.workspace": record.workspace, "user.coi.image": record.image,
            "user.coi.persistent": "true" if record.persistent else "false"}


def new_prefix() -> str:
    return f"coi-m{uuid.uuid4().hex[:6]}-"


@contextlib.contextmanager
def sandbox(client: Client, image: str, tmp_path: Path) -> Iterator[Sandbox]:
    home, workspace = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    workspace.mkdir()
    box = Sandbox(client, image, home, workspace, new_prefix(), [])
    try:
        yield box
    finally:
        for name in box.created:
            remove(client, name)
        for sock in (home / ".coi" / "run").glob("forkserver-*.sock"):
            sock.unlink(missing_ok=True)  # its fork server leaves within seconds


def remove(client: Client, name: str, patience: float = 90) -> None:
    """Force-delete, waiting out a daemon restart (other tests restart incusd)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            instances.delete(client, name, force=True, missing_ok=True)
            return
        except IncusUnreachable:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
        except IncusError:
            return
