"""The security audit log: one JSON object per line in `~/.coi/audit/<container>.jsonl`.

Each append opens the file with O_APPEND, writes the whole line in one `write`, fsyncs
and closes. Holding no descriptor is what makes rotation safe (see `rotation`): a
writer always appends to whatever file has the live name at that moment. A crash can
leave at most a partial last line; readers skip it and the next append starts on a
fresh line.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coi.monitor.findings import Finding, Severity
from coi.state import fsync_dir

SCHEMA_VERSION = 1
FILE_MODE = 0o600
DIR_MODE = 0o700


def audit_dir(coi_home: Path) -> Path:
    return coi_home / "audit"


def audit_path(coi_home: Path, container: str) -> Path:
    if not container or "/" in container or container.startswith("."):
        raise ValueError(f"not a container name: {container!r}")
    return audit_dir(coi_home) / f"{container}.jsonl"


def event(finding: Finding, container: str, action: str,
          now: datetime | None = None) -> dict[str, Any]:
    """The audit record of a finding and the action taken on it."""
    when = now or datetime.now(UTC)
    return {"v": SCHEMA_VERSION, "id": str(uuid.uuid4()),
            "time": when.isoformat(timespec="microseconds"), "container": container,
            "severity": finding.severity.label, "detector": finding.detector,
            "title": finding.title, "evidence": finding.evidence, "action": action}


def ensure_dir(directory: Path) -> None:
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(DIR_MODE)


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps({"v": SCHEMA_VERSION, **record}, separators=(",", ":"),
                          ensure_ascii=False, default=str)
        data = (line.replace("\n", " ") + "\n").encode()
        ensure_dir(self.path.parent)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(self.path, flags, FILE_MODE)
        try:
            created = os.fstat(fd).st_size == 0
            if not created and os.pread(fd, 1, os.fstat(fd).st_size - 1) != b"\n":
                data = b"\n" + data  # a crashed writer left a partial line
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read(path: Path, levels: Iterable[Severity] | None = None) -> list[dict[str, Any]]:
    """The events of one file, oldest first; lines that do not parse (a partial last
    line after a crash) are skipped. `levels` keeps only those severities."""
    wanted = {s.label for s in levels} if levels is not None else None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    events = []
    for line in raw.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (wanted is None or record.get("severity") in wanted):
            events.append(record)
    return events


def export(events: Iterable[Mapping[str, Any]], dest: Path) -> None:
    """Write events as one JSON array, atomically (temp file + rename), mode 0600."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(list(events), out, indent=2, ensure_ascii=False)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, dest)
