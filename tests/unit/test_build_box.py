"""The build container's commands: stdin from /dev/null, and retries when Incus could not
start a command (its exec reports -1 and nothing ran)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from coi.images import buildbox
from coi.images.buildlog import BuildOutput
from coi.images.events import BuildEvent, Clock, Kind


class FakeSession:
    def __init__(self, code: int, output: bytes, sink: Callable[[bytes], None] | None) -> None:
        self.code, self.output, self.sink = code, output, sink

    def wait(self, timeout: float | None = None) -> int:
        if self.output and self.sink:
            self.sink(self.output)
        return self.code

    error = ""

    def write(self, data: bytes) -> bool:
        return True

    def close_stdin(self) -> None:
        pass

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(buildbox.time, "sleep", pauses.append)
    monkeypatch.setattr(buildbox.incus_exec.time, "sleep", pauses.append)
    return pauses


def fake_starts(monkeypatch: pytest.MonkeyPatch, outcomes: list[tuple[int, bytes]]
                ) -> list[Sequence[str]]:
    argvs: list[Sequence[str]] = []

    def start(client: Any, name: str, argv: Sequence[str], **kw: Any) -> FakeSession:
        argvs.append(argv)
        code, output = outcomes.pop(0)
        return FakeSession(code, output, kw["on_stdout"])

    monkeypatch.setattr(buildbox.incus_exec, "start", start)
    return argvs


def output() -> tuple[list[BuildEvent], BuildOutput]:
    events: list[BuildEvent] = []
    return events, BuildOutput(io.BytesIO(), events.append, Clock())


def test_the_recipe_reads_dev_null(monkeypatch: pytest.MonkeyPatch) -> None:
    argvs = fake_starts(monkeypatch, [(0, b"done\n")])
    _, out = output()
    assert buildbox.run(object(), "b", ["/bin/bash", "/x.sh"], {}, out) == 0  # type: ignore[arg-type]
    assert argvs == [["sh", "-c", 'exec "$@" </dev/null', "sh", "/bin/bash", "/x.sh"]]


def test_a_recipe_incus_could_not_start_is_tried_again(
        monkeypatch: pytest.MonkeyPatch, no_sleep: list[float]) -> None:
    argvs = fake_starts(monkeypatch, [(-1, b""), (-1, b""), (0, b"::phase:: go\n")])
    events, out = output()
    assert buildbox.run(object(), "b", ["/x.sh"], {}, out) == 0  # type: ignore[arg-type]
    assert len(argvs) == 3 and no_sleep == [0.5, 1.0]
    notes = [e.text for e in events if e.kind is Kind.NOTE]
    assert notes == ["Incus could not start the recipe (a known race); trying again"] * 2
    assert (Kind.PHASE, "go") in [(e.kind, e.text) for e in events]


def test_a_recipe_that_ran_is_never_run_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    argvs = fake_starts(monkeypatch, [(-1, b"half way\n")])
    _, out = output()
    assert buildbox.run(object(), "b", ["/x.sh"], {}, out) == -1  # type: ignore[arg-type]
    assert len(argvs) == 1


def test_retries_end(monkeypatch: pytest.MonkeyPatch) -> None:
    argvs = fake_starts(monkeypatch, [(-1, b"")] * 4)
    _, out = output()
    assert buildbox.run(object(), "b", ["/x.sh"], {}, out) == -1  # type: ignore[arg-type]
    assert len(argvs) == 4


def test_quick_commands_are_retried_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # The retry lives in coi.incus.exec.run, so every short exec of coi gets it.
    argvs = fake_starts(monkeypatch, [(-1, b""), (0, b"ok\n")])
    assert buildbox.quick(object(), "b", ["true"], timeout=5).stdout == b"ok\n"  # type: ignore[arg-type]
    assert len(argvs) == 2
    argvs = fake_starts(monkeypatch, [(-1, b"cannot resolve\n")])
    assert buildbox.quick(object(), "b", ["x"], timeout=5).exit_code == -1  # type: ignore[arg-type]
    assert len(argvs) == 1  # it printed something, so it ran: never run twice


def test_workspace_is_read_only_and_shifted(tmp_path: Any) -> None:
    device = buildbox.workspace_device(tmp_path)["workspace"]
    assert device == {"type": "disk", "source": str(tmp_path), "path": "/workspace",
                      "readonly": "true", "shift": "true"}
