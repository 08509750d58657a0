"""Progress display of a build, without a terminal: plain lines, steps, phases, verbose."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.images.events import BuildEvent, BuildFailed, Kind, plain_line
from coi.images.progress import Progress, format_seconds
from coi.units import human_size


def ev(kind: Kind, text: str, at: float) -> BuildEvent:
    return BuildEvent(kind, text, at)


def test_plain_line_formats() -> None:
    assert plain_line(ev(Kind.PHASE, "install base packages", 12.34)) == \
        "[12.3s] phase: install base packages"
    assert plain_line(ev(Kind.STEP, "publish coi-x", 1.0)) == "[1.0s] step: publish coi-x"
    assert plain_line(ev(Kind.NOTE, "removed x", 0.0)) == "[0.0s] note: removed x"
    assert plain_line(ev(Kind.OUTPUT, "raw", 2.0)) == "[2.0s] raw"


def test_without_a_terminal_only_progress_lines_are_printed() -> None:
    view = Progress(tty=False)
    assert view.lines(ev(Kind.STEP, "run the coi recipe", 1.0)) == \
        ["[1.0s] step: run the coi recipe"]
    assert view.lines(ev(Kind.OUTPUT, "Get:1 http://deb.debian.org", 1.5)) == []
    assert view.lines(ev(Kind.PHASE, "configure apt", 2.0)) == ["[2.0s] phase: configure apt"]


def test_verbose_adds_the_raw_output() -> None:
    view = Progress(tty=False, verbose=True)
    assert view.lines(ev(Kind.OUTPUT, "Get:1 http://deb.debian.org", 1.5)) == \
        ["Get:1 http://deb.debian.org"]


def test_on_a_terminal_finished_steps_and_phases_get_a_done_line() -> None:
    view = Progress(tty=True)
    assert view.lines(ev(Kind.STEP, "start", 0.0)) == []
    assert view.status(0.5) == "start … 0.5s (total 0.5s)"
    assert view.lines(ev(Kind.STEP, "run the coi recipe", 1.0)) == ["  done  start (1.0s)"]
    assert view.lines(ev(Kind.PHASE, "configure apt", 1.2)) == []
    assert view.status(3.2) == "configure apt … 2.0s (total 3.2s)"
    assert view.lines(ev(Kind.PHASE, "install", 4.0)) == ["    done  configure apt (2.8s)"]
    assert view.lines(ev(Kind.NOTE, "something", 4.1)) == ["  something"]
    assert view.lines(ev(Kind.STEP, "stop", 70.0)) == [
        "    done  install (1m06s)", "  done  run the coi recipe (1m09s)"]
    assert view.finish(71.0) == ["  done  stop (1.0s)"]
    assert view.finish(72.0) == []
    assert view.status(72.0) == "building … 1m12s"


@pytest.mark.parametrize(("seconds", "text"), [
    (0.04, "0.0s"), (12.345, "12.3s"), (59.9, "59.9s"), (60, "1m00s"), (125.5, "2m05s")])
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(("size", "text"), [
    (512, "512 B"), (2048, "2.0 KiB"), (349323264, "333.1 MiB"),
    (2_800_000_000, "2.6 GiB"), (5 * 1024**4, "5.0 TiB")])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_build_failed_points_at_the_log() -> None:
    exc = BuildFailed("the build script x.sh failed with exit status 3",
                      Path("/root/.coi/logs/build-x.log"), ["a", "b"])
    assert str(exc) == ("the build script x.sh failed with exit status 3 "
                        "(see the build log: /root/.coi/logs/build-x.log)")
    assert exc.tail == ("a", "b")
    assert exc.exit_code == 1
    assert BuildFailed("no log", None).hint is None
