"""State files survive crashes: atomic replace, schema versions, locks between processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from coi.errors import CoiError, CoiTimeout
from coi.state import atomic_write_bytes, file_lock, read_record, write_record


def test_record_round_trip_carries_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "meta.json"
    write_record(path, {"session_id": "abc"}, schema_version=2)
    assert json.loads(path.read_text())["schema_version"] == 2
    assert read_record(path, schema_version=2)["session_id"] == "abc"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    write_record(path, {}, schema_version=3)
    with pytest.raises(CoiError, match="newer coi"):
        read_record(path, schema_version=2)


def test_corrupt_record_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text("{half")
    with pytest.raises(CoiError, match="unreadable state file"):
        read_record(path, schema_version=1)


def test_failed_write_keeps_old_content_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def _hold(path: str, seconds: float) -> None:
    with file_lock(Path(path)):
        time.sleep(seconds)


def test_lock_excludes_another_process(tmp_path: Path) -> None:
    lock = tmp_path / "slot.lock"
    proc = multiprocessing.get_context("fork").Process(target=_hold, args=(str(lock), 1.0))
    proc.start()
    time.sleep(0.3)
    with pytest.raises(CoiTimeout, match="another coi process"), file_lock(lock, timeout=0.2):
        pass
    proc.join()
    with file_lock(lock, timeout=1):  # released when the holder ended
        pass


def test_lock_is_released_when_holder_is_killed(tmp_path: Path) -> None:
    lock = tmp_path / "slot.lock"
    proc = multiprocessing.get_context("fork").Process(target=_hold, args=(str(lock), 30))
    proc.start()
    time.sleep(0.3)
    proc.kill()
    proc.join()
    with file_lock(lock, timeout=1):
        pass
