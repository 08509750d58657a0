"""The build log: every byte the recipe printed, plus the builder's own steps.

`BuildOutput` is the sink pair for the exec streams. It appends raw output to the log
file and turns complete lines into events: `::phase:: text` lines become phases, others
output lines. It is called from two reader threads (stdout, stderr): a lock makes sure
events are emitted one at a time, and each stream keeps its own partial line so the two
never splice into one line.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from coi.images.events import BuildEvent, Clock, Emit, Kind, plain_line
from coi.images.versions import STAMP_FORMAT

PHASE_MARK = "::phase::"
TAIL_LINES = 20
KEEP_LOGS = 10  # per image name


def parse_phase(line: str) -> str | None:
    """The phase a `::phase:: text` line announces, else None."""
    head, mark, rest = line.partition(PHASE_MARK)
    if not mark or head.strip():
        return None
    return rest.strip() or None


def log_path(logs_dir: Path, alias: str, when: datetime | None = None) -> Path:
    stamp = (when or datetime.now(UTC)).astimezone(UTC).strftime(STAMP_FORMAT)
    return logs_dir / f"build-{alias}-{stamp}.log"


def old_logs(logs_dir: Path, alias: str, keep: int = KEEP_LOGS) -> list[Path]:
    """Build logs of `alias` beyond the `keep` newest (names sort by their stamp)."""
    pattern = f"build-{alias}-" + "[0-9]" * 8 + "-" + "[0-9]" * 6 + ".log"
    return sorted(logs_dir.glob(pattern), reverse=True)[keep:]


def tail(path: Path, lines: int = TAIL_LINES, max_bytes: int = 64 * 1024) -> list[str]:
    """The last lines of a log, without reading all of it."""
    try:
        with path.open("rb") as stream:
            start = max(0, stream.seek(0, os.SEEK_END) - max_bytes)
            stream.seek(start)
            data = stream.read()
    except OSError:
        return []
    text = data.decode(errors="replace").rstrip("\n")
    found = text.split("\n")[1 if start > 0 else 0:] if text else []  # a seek cuts line 1
    return [_last_frame(line) for line in found[-lines:]]


def _last_frame(line: str) -> str:
    """What a terminal shows of a line redrawn with carriage returns."""
    return line.rstrip("\r").rsplit("\r", 1)[-1]


class LineSplitter:
    """Bytes in, complete lines out; a partial line waits for the rest."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        *lines, self._pending = (self._pending + data).split(b"\n")
        return [_last_frame(line.decode(errors="replace")) for line in lines]

    def flush(self) -> list[str]:
        rest, self._pending = self._pending, b""
        return [_last_frame(rest.decode(errors="replace"))] if rest else []


class BuildOutput:
    """The log file and the event stream of one build."""

    def __init__(self, stream: BinaryIO, emit: Emit, clock: Clock) -> None:
        self._stream = stream
        self._emit = emit
        self.clock = clock
        self._lock = threading.Lock()
        self._splitters = {"out": LineSplitter(), "err": LineSplitter()}

    def event(self, kind: Kind, text: str) -> None:
        """A builder event: logged as a stamped line, then emitted."""
        event = BuildEvent(kind, text, self.clock.elapsed())
        with self._lock:
            self._write((plain_line(event) + "\n").encode())
            self._emit(event)

    def stdout(self, data: bytes) -> None:
        self._output("out", data)

    def stderr(self, data: bytes) -> None:
        self._output("err", data)

    def flush(self) -> None:
        for name in self._splitters:
            self._output(name, b"", final=True)

    def _output(self, stream: str, data: bytes, final: bool = False) -> None:
        with self._lock:
            self._write(data)
            splitter = self._splitters[stream]
            for line in splitter.feed(data) + (splitter.flush() if final else []):
                phase = parse_phase(line)
                kind, text = (Kind.OUTPUT, line) if phase is None else (Kind.PHASE, phase)
                self._emit(BuildEvent(kind, text, self.clock.elapsed()))

    def _write(self, data: bytes) -> None:
        if data:
            self._stream.write(data)
            self._stream.flush()


@contextlib.contextmanager
def open_log(path: Path, owner: tuple[int, int] | None) -> Iterator[BinaryIO]:
    """Create the log file (its directory too), owned by the invoking user under sudo."""
    from coi.state import make_dirs

    make_dirs(path.parent, owner, mode=0o700)
    with path.open("ab") as stream:
        if owner is not None:
            os.fchown(stream.fileno(), *owner)
        yield stream
