"""The `dummy` tool: a bash fake of an AI coding CLI, run here on the host.

Each test gets its own HOME and workspace, so state never leaks between tests. The
interactive flows go through a real PTY (pexpect), as coi's terminal does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pexpect
import pytest

from coi.tools.dummy import INSTALL_PATH, VERSION, script_path

SCRIPT = script_path()
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
TIMEOUT = 5


@dataclass
class Sandbox:
    home: Path
    workspace: Path
    env: dict[str, str]

    @property
    def claude(self) -> Path:
        return self.home / ".claude"

    @property
    def project(self) -> Path:
        key = re.sub(r"[^A-Za-z0-9]", "-", str(self.workspace.resolve()))
        return self.claude / "projects" / key

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            cwd=self.workspace,
            env=self.env,
            timeout=TIMEOUT,
            check=False,
        )

    def spawn(self, *args: str) -> pexpect.spawn:
        child = pexpect.spawn(
            str(SCRIPT),
            list(args),
            cwd=str(self.workspace),
            env=self.env,
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(40, 200),
        )
        return child

    def records(self, session_id: str) -> list[dict[str, object]]:
        lines = (self.project / f"{session_id}.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    home, workspace = tmp_path / "home", tmp_path / "my_work.space"
    home.mkdir()
    workspace.mkdir()
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }
    yield Sandbox(home, workspace, env)


def start(box: Sandbox, *args: str) -> pexpect.spawn:
    """Spawn an interactive session and wait for its first prompt."""
    child = box.spawn(*args)
    child.expect(r"Dummy AI 1\.0\.0 — session (\S+)\r\n")
    child.session_id = child.match.group(1)
    child.expect_exact("Tip: ")
    child.expect_exact("> ")
    return child


def say(child: pexpect.spawn, line: str, answer: str) -> None:
    child.sendline(line)
    child.expect_exact(answer)
    child.expect_exact("> ")


def leave(child: pexpect.spawn, how: str = "exit") -> int:
    if how == "eof":
        child.sendeof()
    else:
        child.sendline(how)
    child.expect_exact("Goodbye.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None
    return int(child.exitstatus)


# ---- flags -------------------------------------------------------------------------


def test_version(box: Sandbox) -> None:
    result = box.run("--version")
    assert (result.returncode, result.stdout) == (0, f"dummy {VERSION} (coi test tool)\n")


def test_help_explains_commands_and_flags(box: Sandbox) -> None:
    result = box.run("--help")
    assert result.returncode == 0
    for word in (
        "--session-id",
        "--resume",
        "--continue",
        "--print",
        "write FILE",
        "append",
        "read FILE",
        "ls [DIR]",
        "rm FILE",
        "run CMD",
        "history",
        "sleep N",
        "exit",
        "projects/",
        "history.jsonl",
        "settings.json",
    ):
        assert word in result.stdout


def test_unknown_option_is_a_usage_error(box: Sandbox) -> None:
    result = box.run("--frobnicate")
    assert result.returncode == 2
    assert "unknown option: --frobnicate" in result.stderr


def test_claude_flags_coi_passes_are_accepted(box: Sandbox) -> None:
    result = box.run(
        "--verbose",
        "--permission-mode",
        "bypassPermissions",
        "--dangerously-skip-permissions",
        "--session-id",
        "s-1",
        "-p",
        "hi",
    )
    assert (result.returncode, result.stdout) == (0, "Dummy: you said: hi\n")
    assert (box.project / "s-1.jsonl").is_file()


def test_session_id_cannot_be_combined_with_resume(box: Sandbox) -> None:
    assert box.run("--session-id", "x", "--resume").returncode == 2


# ---- interactive -------------------------------------------------------------------


def test_banner_prompt_and_echo(box: Sandbox) -> None:
    child = box.spawn()
    child.expect(rf"Dummy AI 1\.0\.0 — session ({UUID4})\r\n")
    session = child.match.group(1)
    child.expect_exact("Tip: ")
    child.expect_exact("> ")
    say(child, "hello   there", "Dummy: you said: hello   there\r\n")
    assert leave(child) == 0
    assert (box.project / f"{session}.jsonl").is_file()


def test_write_creates_file_with_text(box: Sandbox) -> None:
    child = start(box)
    text = "hello  spaced   world"
    say(child, f"write sub/dir/notes.txt {text}", "Dummy: wrote sub/dir/notes.txt (22 bytes)")
    assert (box.workspace / "sub/dir/notes.txt").read_text() == text + "\n"
    say(child, "append sub/dir/notes.txt more", "Dummy: appended 5 bytes to sub/dir/notes.txt")
    child.sendline("read sub/dir/notes.txt")
    child.expect_exact("Dummy: contents of sub/dir/notes.txt:\r\n")
    child.expect_exact(f"{text}\r\nmore\r\n> ")
    say(child, 'write "two words.txt" x', "Dummy: wrote two words.txt (2 bytes)")
    assert (box.workspace / "two words.txt").read_text() == "x\n"
    say(child, "rm sub/dir/notes.txt", "Dummy: removed sub/dir/notes.txt")
    assert not (box.workspace / "sub/dir/notes.txt").exists()
    say(child, "read sub/dir/notes.txt", "Dummy: error: cannot read sub/dir/notes.txt: No such")
    assert leave(child) == 0


def test_run_shows_output_and_exit_code(box: Sandbox) -> None:
    child = start(box)
    child.sendline("run echo out; echo err >&2; exit 3")
    child.expect_exact("Dummy: running: echo out; echo err >&2; exit 3\r\n")
    child.expect_exact("out\r\nerr\r\nDummy: exit code 3\r\n> ")
    assert leave(child) == 0


def test_session_id_then_resume_replays_the_conversation(box: Sandbox) -> None:
    child = start(box, "--session-id", "abc-1")
    assert child.session_id == "abc-1"
    say(child, "first message", "Dummy: you said: first message")
    say(child, "write a.txt 1", "Dummy: wrote a.txt (2 bytes)")
    assert leave(child) == 0

    child = box.spawn("--resume", "abc-1")
    child.expect_exact("Resuming session: abc-1\r\n")
    child.expect_exact(
        "You: first message\r\nDummy: you said: first message\r\n"
        "You: write a.txt 1\r\nDummy: wrote a.txt (2 bytes)\r\n"
    )
    child.expect_exact("Dummy AI 1.0.0 — session abc-1\r\n")
    child.expect_exact("> ")
    say(child, "second", "Dummy: you said: second")
    assert leave(child, "eof") == 0
    users = [r["message"] for r in box.records("abc-1") if r["type"] == "user"]
    assert users == [
        {"role": "user", "content": c} for c in ("first message", "write a.txt 1", "second")
    ]


def test_history_replays_this_session(box: Sandbox) -> None:
    child = start(box)
    say(child, "one", "Dummy: you said: one")
    child.sendline("history")
    child.expect(r"Dummy: history of session \S+ \(2 messages\):\r\n")
    child.expect_exact("You: one\r\nDummy: you said: one\r\n> ")
    assert leave(child) == 0


def test_resume_without_id_picks_the_newest(box: Sandbox) -> None:
    for session, mtime in (("aaa-old", 1_000_000), ("mmm-new", None), ("zzz-old", 2_000_000)):
        assert box.run("--session-id", session, "-p", f"I am {session}").returncode == 0
        if mtime:  # neither the first nor the last name is the newest
            os.utime(box.project / f"{session}.jsonl", (mtime, mtime))
    for flags in (["--resume"], ["-r"], ["--continue"], ["-c"]):
        child = box.spawn(*flags)
        child.expect_exact("Resuming session: mmm-new\r\nYou: I am mmm-new\r\n")
        child.expect_exact("> ")
        assert leave(child) == 0


def test_resume_with_no_session_fails(box: Sandbox) -> None:
    for flags in (["--resume"], ["-c"], ["--resume", "missing"]):
        result = box.run(*flags)
        assert result.returncode == 1
        assert result.stderr.startswith("Error: no previous session to resume")
        assert result.stdout == ""


def test_session_id_already_in_use_fails(box: Sandbox) -> None:
    assert box.run("--session-id", "dup", "-p", "x").returncode == 0
    result = box.run("--session-id", "dup", "-p", "y")
    assert result.returncode == 1
    assert "already in use" in result.stderr


def test_sigint_at_prompt_keeps_it_alive(box: Sandbox) -> None:
    child = start(box)
    child.sendintr()
    child.expect_exact('(Interrupted. Type "exit" to quit.)')
    child.expect_exact("> ")
    assert child.isalive()
    say(child, "still here", "Dummy: you said: still here")
    assert leave(child) == 0


def test_sigint_interrupts_sleep(box: Sandbox) -> None:
    child = start(box)
    say(child, "sleep 0.1", "Dummy: slept 0.1 seconds")
    child.sendline("sleep 30")
    session_file = box.project / f"{child.session_id}.jsonl"
    deadline = time.monotonic() + TIMEOUT
    while '"sleep 30"' not in session_file.read_text():  # the prompt has been read
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.sendintr()
    child.expect(r"Dummy: (sleep )?interrupted\r\n", timeout=3)
    assert leave(child) == 0


def test_eof_exits_zero_and_logs(box: Sandbox) -> None:
    child = start(box, "--session-id", "e")
    assert leave(child, "eof") == 0
    last = box.records("e")[-1]
    assert (last["type"], last["message"]) == (
        "system",
        {"role": "system", "content": "session ended (eof)"},
    )


@pytest.mark.parametrize(
    ("sig", "status", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")]
)
def test_term_and_hup_log_then_exit(box: Sandbox, sig: int, status: int, name: str) -> None:
    child = start(box, "--session-id", "t")
    child.kill(sig)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == status
    assert box.records("t")[-1]["message"] == {
        "role": "system",
        "content": f"session ended ({name})",
    }


# ---- headless ----------------------------------------------------------------------


def test_print_mode_answers_once(box: Sandbox) -> None:
    result = box.run("-p", "hello")
    assert (result.returncode, result.stdout, result.stderr) == (0, "Dummy: you said: hello\n", "")
    result = box.run("--print", "write out/f.txt from print")
    assert result.stdout == "Dummy: wrote out/f.txt (11 bytes)\n"
    assert (box.workspace / "out/f.txt").read_text() == "from print\n"


def test_print_mode_reads_stdin_for_dash(box: Sandbox) -> None:
    result = box.run("-p", "-", stdin="from stdin\n")
    assert (result.returncode, result.stdout) == (0, "Dummy: you said: from stdin\n")
    assert box.run("-p", "-", stdin="").returncode == 1


def test_print_mode_continues_a_session(box: Sandbox) -> None:
    box.run("--session-id", "p1", "-p", "one")
    result = box.run("--resume", "p1", "-p", "two")
    assert result.stdout == "Dummy: you said: two\n"  # no replay in headless mode
    contents = [r["message"]["content"] for r in box.records("p1")]  # type: ignore[index]
    assert contents == ["one", "Dummy: you said: one", "two", "Dummy: you said: two"]


# ---- state on disk -----------------------------------------------------------------


def test_records_are_valid_json_with_awkward_text(box: Sandbox) -> None:
    awkward = 'he said "hi" \\ C:\\dir\\new\tend'
    child = start(box, "--session-id", "j")
    say(child, awkward, "Dummy: you said: ")
    assert leave(child) == 0
    control = 'multi\nline \x01\x1f "q" \\n not-a-newline'
    assert box.run("--resume", "j", "-p", "-", stdin=control).returncode == 0

    records = box.records("j")
    assert [r["type"] for r in records] == ["user", "assistant", "system", "user", "assistant"]
    assert records[0]["message"] == {"role": "user", "content": awkward}
    assert records[1]["message"] == {"role": "assistant", "content": f"Dummy: you said: {awkward}"}
    assert records[3]["message"] == {"role": "user", "content": control}
    for parent, record in zip([None, *records], records, strict=False):
        assert re.fullmatch(UUID4, str(record["uuid"]))
        assert record["parentUuid"] == (parent["uuid"] if parent else None)
        assert record["sessionId"] == "j"
        assert record["cwd"] == str(box.workspace.resolve())
        assert datetime.fromisoformat(str(record["timestamp"])).tzinfo is not None

    child = box.spawn("--resume", "j")  # and the replay gives the text back unchanged
    child.expect_exact("Resuming session: j\r\n")
    child.expect_exact(f"You: {awkward}\r\nDummy: you said: {awkward}\r\n")
    child.expect_exact('You: multi\r\nline \x01\x1f "q" \\n not-a-newline\r\n')
    child.expect_exact("> ")
    assert leave(child) == 0


def test_history_and_settings_files(box: Sandbox) -> None:
    box.claude.mkdir()
    (box.claude / "settings.json").write_text('{"theme": "dark"}\n')
    box.run("--session-id", "h", "-p", "first")
    box.run("--resume", "h", "-p", "second")
    assert (box.claude / "settings.json").read_text() == '{"theme": "dark"}\n'
    history = [json.loads(x) for x in (box.claude / "history.jsonl").read_text().splitlines()]
    assert [h["display"] for h in history] == ["first", "second"]
    assert {h["project"] for h in history} == {str(box.workspace.resolve())}


def test_settings_created_when_absent_and_project_key(box: Sandbox) -> None:
    box.run("-p", "x")
    assert (box.claude / "settings.json").read_text() == "{}\n"
    key = str(box.workspace.resolve()).replace("/", "-").replace("_", "-").replace(".", "-")
    assert [p.name for p in (box.claude / "projects").iterdir()] == [key]
    assert re.fullmatch(rf"{UUID4}\.jsonl", next(box.project.iterdir()).name)


def test_uuid_fallback_without_proc(box: Sandbox) -> None:
    box.env["DUMMY_UUID_FILE"] = "/nonexistent"
    box.run("-p", "x")
    [session_file] = box.project.iterdir()
    assert re.fullmatch(rf"{UUID4}\.jsonl", session_file.name)
    assert all(re.fullmatch(UUID4, str(r["uuid"])) for r in box.records(session_file.stem))


# ---- the shipped file --------------------------------------------------------------


def test_script_is_shipped_executable_bash() -> None:
    assert SCRIPT.is_file() and os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash\n")
    assert INSTALL_PATH == "/usr/local/bin/dummy"
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_script_is_shellcheck_clean() -> None:
    result = subprocess.run(
        ["shellcheck", str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
