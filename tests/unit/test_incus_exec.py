"""Shapes of exec requests and control messages (no daemon)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from coi.incus.exec import (
    ExecResult,
    exec_body,
    resize_message,
    signal_message,
    stream_writer,
)


def test_plain_exec_body() -> None:
    body = exec_body(["ls", "-l"])
    assert body == {
        "command": ["ls", "-l"], "environment": {}, "wait-for-websocket": True,
        "interactive": False, "record-output": False,
    }


def test_exec_body_with_identity_and_pty() -> None:
    body = exec_body(["sh"], env={"A": "1"}, user=1000, group=1000, cwd="/w",
                     interactive=True, width=132, height=40)
    assert body["environment"] == {"A": "1"}
    assert (body["user"], body["group"], body["cwd"]) == (1000, 1000, "/w")
    assert (body["interactive"], body["width"], body["height"]) == (True, 132, 40)


def test_root_user_zero_is_sent() -> None:
    assert exec_body(["id"], user=0)["user"] == 0


def test_empty_command_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a command"):
        exec_body([])


def test_resize_message_uses_strings() -> None:
    assert json.loads(resize_message(132, 40)) == {
        "command": "window-resize", "args": {"width": "132", "height": "40"}}


def test_signal_message() -> None:
    assert json.loads(signal_message(15)) == {"command": "signal", "signal": 15}


def test_exec_result_ok() -> None:
    assert ExecResult(b"", b"", 0).ok
    failed = ExecResult(b"", b"", 127, "Command not found")
    assert not failed.ok and failed.error == "Command not found"


def test_stream_writer_flushes() -> None:
    flushed: list[bool] = []

    class Stream(io.BytesIO):
        def flush(self) -> None:
            flushed.append(True)

    stream = Stream()
    stream_writer(stream)(b"abc")
    assert stream.getvalue() == b"abc" and flushed


def test_websockets_is_imported_only_when_a_command_runs() -> None:
    code = "import sys, coi.incus.exec; print('websockets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
