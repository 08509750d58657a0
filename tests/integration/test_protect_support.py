"""Helpers for the security integration tests (no tests here).

Containers are made from `coi-test` the way the session runtime makes them: raw.idmap
"both W 1000" for a workspace owned by host uid W, no shift, workspace at /workspace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from coi.errors import IncusError, NotFound
from coi.incus import exec as incus_exec
from coi.incus import instances
from coi.incus.client import Client

IMAGE = os.environ.get("COI_TEST_IMAGE", "coi-test")
CODE_UID = 1000


def sp_name() -> str:
    return f"coi-sp{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def open_dir() -> Iterator[Path]:
    """A temporary directory every uid can reach (pytest's tmp_path is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="coi-sp-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def make_repo(root: Path, owner: int) -> Path:
    """A git repository with a hook, owned (recursively) by host uid `owner`."""
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    (root / "README").write_text("hello\n")
    for path in [root, *root.rglob("*")]:
        os.lchown(path, owner, owner)
    return root


def snapshot(root: Path, rels: list[str]) -> dict[str, object]:
    """Contents (files) or listings (dirs) of `rels`, to compare before and after."""
    found: dict[str, object] = {}
    for rel in rels:
        path = root / rel
        if path.is_dir() and not path.is_symlink():
            found[rel] = sorted((p.name, p.read_bytes()) for p in path.iterdir() if p.is_file())
        elif path.exists():
            found[rel] = path.read_bytes()
        else:
            found[rel] = None
    return found


@contextlib.contextmanager
def container(client: Client, owner: int, devices: Mapping[str, Mapping[str, str]],
              config: Mapping[str, str] | None = None, *, name: str | None = None,
              profiles: list[str] | None = None) -> Iterator[str]:
    name = name or sp_name()
    conf = {"raw.idmap": f"both {owner} {CODE_UID}", **(config or {})}
    try:
        instances.create(client, name, image=IMAGE, config=conf, devices=devices,
                         profiles=profiles, start=True, timeout=120)
        yield name
    finally:
        with contextlib.suppress(IncusError):
            instances.delete(client, name, force=True, missing_ok=True)


def sh(client: Client, name: str, script: str, *, root: bool = True,
       env: Mapping[str, str] | None = None, timeout: float = 60) -> incus_exec.ExecResult:
    uid = 0 if root else CODE_UID
    return incus_exec.run(client, name, ["sh", "-c", script], user=uid, group=uid,
                          env=env, timeout=timeout)


def exists(client: Client, name: str) -> bool:
    try:
        instances.get(client, name)
    except NotFound:
        return False
    return True
