"""The build log: phase lines, line splitting, the output sink, tails and old logs."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coi.images.buildlog import (
    BuildOutput,
    LineSplitter,
    log_path,
    old_logs,
    open_log,
    parse_phase,
    tail,
)
from coi.images.events import BuildEvent, Clock, Kind


@pytest.mark.parametrize(("line", "phase"), [
    ("::phase:: install base packages", "install base packages"),
    ("  ::phase::   configure apt  ", "configure apt"),
    ("::phase::", None),
    ("echo ::phase:: not at the start", None),
    ("plain output", None),
])
def test_parse_phase(line: str, phase: str | None) -> None:
    assert parse_phase(line) == phase


def test_splitter_keeps_partial_lines_until_complete() -> None:
    split = LineSplitter()
    assert split.feed(b"one\ntw") == ["one"]
    assert split.feed(b"o\nthree") == ["two"]
    assert split.flush() == ["three"]
    assert split.flush() == []


def test_splitter_shows_the_last_frame_of_a_redrawn_line() -> None:
    split = LineSplitter()
    assert split.feed(b"10%\r50%\r100%\r\nok\n") == ["100%", "ok"]


def test_splitter_survives_bad_utf8() -> None:
    assert LineSplitter().feed(b"caf\xc3\n\xff\n") == ["caf\ufffd", "\ufffd"]


def collect() -> tuple[list[BuildEvent], BuildOutput, io.BytesIO]:
    events: list[BuildEvent] = []
    stream = io.BytesIO()
    return events, BuildOutput(stream, events.append, Clock()), stream


def test_output_turns_lines_into_phase_and_output_events() -> None:
    events, out, stream = collect()
    out.stdout(b"::phase:: install\napt says hi\n")
    out.stderr(b"warning: x\n")
    assert [(e.kind, e.text) for e in events] == [
        (Kind.PHASE, "install"), (Kind.OUTPUT, "apt says hi"), (Kind.OUTPUT, "warning: x")]
    assert stream.getvalue() == b"::phase:: install\napt says hi\nwarning: x\n"


def test_streams_never_splice_into_one_line() -> None:
    events, out, _ = collect()
    out.stdout(b"half of stdout ")
    out.stderr(b"stderr line\n")
    out.stdout(b"rest\n")
    assert [e.text for e in events] == ["stderr line", "half of stdout rest"]


def test_flush_emits_what_has_no_newline() -> None:
    events, out, _ = collect()
    out.stdout(b"no newline at the end")
    assert events == []
    out.flush()
    assert [e.text for e in events] == ["no newline at the end"]


def test_builder_events_are_logged_with_a_stamp() -> None:
    events, out, stream = collect()
    out.event(Kind.STEP, "publish coi-20260101-000000")
    assert events[0].kind is Kind.STEP
    assert stream.getvalue().decode().endswith("] step: publish coi-20260101-000000\n")


def test_output_from_two_threads_arrives_whole() -> None:
    events, out, stream = collect()

    def pump(sink: object, tag: bytes) -> None:
        for i in range(300):
            sink(tag + b"%d\n" % i)  # type: ignore[operator]

    threads = [threading.Thread(target=pump, args=(out.stdout, b"o")),
               threading.Thread(target=pump, args=(out.stderr, b"e"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = [e.text for e in events]
    assert sorted(texts) == sorted([f"o{i}" for i in range(300)] + [f"e{i}" for i in range(300)])
    assert len(stream.getvalue().splitlines()) == 600


def test_log_path_is_named_after_alias_and_utc_stamp(tmp_path: Path) -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert log_path(tmp_path, "coi", when) == tmp_path / "build-coi-20260304-050607.log"


def test_old_logs_keeps_the_newest_of_one_alias(tmp_path: Path) -> None:
    names = [f"build-coi-2026010{d}-000000.log" for d in range(1, 6)]
    for name in [*names, "build-coi-rust-20260101-000000.log", "other.log"]:
        (tmp_path / name).write_text("x")
    assert [p.name for p in old_logs(tmp_path, "coi", keep=2)] == names[2::-1]


def test_tail_reads_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "b.log"
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(100)) + b"50%\r100%\n")
    assert tail(log, 3) == ["line 98", "line 99", "100%"]
    assert tail(tmp_path / "missing.log") == []


def test_open_log_makes_a_private_directory(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".coi" / "logs" / "build-x.log"
    with open_log(path, None) as stream:
        stream.write(b"hello\n")
    assert path.read_bytes() == b"hello\n"
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_tail_of_an_empty_log_is_empty(tmp_path: Path) -> None:
    (tmp_path / "e.log").write_bytes(b"")
    assert tail(tmp_path / "e.log") == []


def test_tail_drops_the_line_cut_by_its_window(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(b"x" * 100 + b"\nkept\n")
    assert tail(log, 5, max_bytes=20) == ["kept"]
