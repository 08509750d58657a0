"""Sessions of one workspace share the placeholders protection makes for missing paths:
the last one to end removes them, none is left behind, none is removed while in use.
Host-side only (mounts need root; no container is involved)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coi.config.model import Config
from coi.security import protect

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="host-side mounts need root")


def test_last_session_out_removes_shared_placeholders(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "main.py").write_text("print('hi')\n")
    coi_home, run_dir = tmp_path / "coi", tmp_path / "run"
    first = protect.plan(workspace, Config(), "coi-ps-1", run_dir=run_dir)
    protect.apply(first, coi_home)
    assert (workspace / ".git" / "config").exists()  # placeholder for a missing path
    second = protect.plan(workspace, Config(), "coi-ps-2", run_dir=run_dir)
    protect.apply(second, coi_home)
    try:
        first_out = protect.release(coi_home, "coi-ps-1")
        assert first_out.kept == []
        assert (workspace / ".git" / "config").exists()  # still mounted by the second
    finally:
        last_out = protect.release(coi_home, "coi-ps-2")
    assert last_out.kept == []
    assert sorted(p.name for p in workspace.iterdir()) == ["main.py"]
    assert protect.recorded(coi_home) == []
