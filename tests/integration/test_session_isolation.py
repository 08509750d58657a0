"""Sessions are isolated end to end: `coi run` and `coi shell` apply the network policy,
protected paths, the environment allow-list, limits and the untrusted-config rules.

Network targets are the netlab's (a namespace on this host, nothing leaves the machine)
and the Debian mirror (deb.debian.org), which restricted mode must let through.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi.incus import instances
from coi.incus.client import Client
from coi.network import nic
from coi.security import protect
from coi.session.runlock import is_supervised
from tests.integration import netlab
from tests.integration.session_support import Sandbox, sandbox, wait_until

pytestmark = pytest.mark.slow

PRIVATE = netlab.BLOCKED["rfc1918-10"]
MIRROR = "exec 3<>/dev/tcp/deb.debian.org/80"
LAB = (f"exec 3<>/dev/tcp/{PRIVATE}/{netlab.NS_PORT} && head -c 5 <&3")


@pytest.fixture
def box(incus: Client, test_image: str, tmp_path: Path) -> Iterator[Sandbox]:
    with sandbox(incus, test_image, tmp_path, owner=1000) as made:
        subprocess.run(["git", "init", "-q", str(made.workspace)], check=True)
        subprocess.run(["chown", "-R", "1000:1000", str(made.workspace)], check=True)
        yield made


@pytest.fixture(scope="module")
def lab(incus: Client) -> Iterator[netlab.Lab]:
    _, base = netlab.profile_nic(incus)
    gateway = nic.bridge(incus, base["network"]).gateway4[0]
    with netlab.lab(gateway) as made:
        yield made


def run(box: Sandbox, script: str, *flags: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return box.coi("run", *flags, "--", "timeout", "8", "bash", "-c", script, **env)


def rules_of(name: str) -> str:
    table = subprocess.run(["nft", "list", "table", "inet", "coi"], capture_output=True,
                           text=True, check=True).stdout
    return "\n".join(line for line in table.splitlines() if name in line)


def write_config(box: Sandbox, text: str) -> None:
    box.write_config(text)


def test_run_is_restricted_by_default(box: Sandbox, lab: netlab.Lab) -> None:
    mirror = run(box, MIRROR)
    assert mirror.returncode == 0, mirror.stderr
    private = run(box, LAB)
    assert private.returncode != 0 and private.stdout == b"", private
    # A detached child of `coi run` stops the container and then removes its rules.
    wait_until(lambda: rules_of(box.name()) == "", 15, "the session's rules are removed")
    wait_until(lambda: not box.ours(), 15, "the run's container is deleted")
    wait_until(lambda: not protect.recorded(box.coi_home), 15, "its protection is released")
    assert not is_supervised(box.coi_home, box.name())
    opened = run(box, LAB, "--network", "open")
    assert (opened.returncode, opened.stdout) == (0, b"hello"), opened.stderr


def test_allowlist_reaches_only_what_it_lists(box: Sandbox, lab: netlab.Lab) -> None:
    write_config(box, f'[network]\nallowlist = ["{PRIVATE}"]\n')
    listed = run(box, LAB, "--network", "allowlist", "--tool", "dummy")
    assert (listed.returncode, listed.stdout) == (0, b"hello"), listed.stderr
    mirror = run(box, MIRROR, "--network", "allowlist", "--tool", "dummy")
    assert mirror.returncode != 0
    assert rules_of(box.name()) == ""


def test_untrusted_project_config_cannot_open_the_network(box: Sandbox,
                                                          lab: netlab.Lab) -> None:
    project = box.workspace / ".coi.toml"
    project.write_text('[network]\nmode = "open"\n')
    refused = run(box, LAB)
    assert refused.returncode != 0 and refused.stdout == b""
    assert b"ignoring network.mode from ./.coi.toml" in refused.stderr
    assert box.coi("trust", "--yes", str(project)).returncode == 0
    trusted = run(box, LAB)
    assert (trusted.returncode, trusted.stdout) == (0, b"hello"), trusted.stderr


def test_host_environment_stays_out(box: Sandbox) -> None:
    result = box.coi("run", "--env", "MINE=given", "--", "env", COI_CANARY_XYZ="leak")
    assert result.returncode == 0, result.stderr
    assert b"MINE=given" in result.stdout
    assert b"COI_CANARY_XYZ" not in result.stdout and b"leak" not in result.stdout


def test_protected_paths_in_a_shell_session(box: Sandbox) -> None:
    hook = box.workspace / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho original\n")
    started = box.coi("shell", "--background", "--tool", "dummy")
    assert started.returncode == 0, started.stderr
    name = box.name()
    for root in (False, True):
        assert box.sh(name, "echo evil > .git/hooks/pre-commit", root=root).exit_code != 0
        assert box.sh(name, "touch .git/hooks/x", root=root).exit_code != 0
        assert box.sh(name, "mv .git .git2", root=root).exit_code != 0
    assert box.sh(name, "sudo umount /workspace/.git/hooks").exit_code != 0
    assert box.sh(name, "touch ordinary").exit_code == 0
    assert hook.read_text() == "#!/bin/sh\necho original\n"
    assert (box.workspace / ".vscode").is_dir(), "a placeholder while it runs"
    box.end_tmux(name)
    box.wait_closed(name)
    assert not (box.workspace / ".vscode").exists(), "placeholders removed at the end"
    assert not (box.coi_home / "protect" / f"{name}.json").exists()
    assert f"/run/coi/protect/{name}/" not in Path("/proc/self/mountinfo").read_text()
    assert rules_of(name) == ""


def test_writable_git_hooks_lifts_protection(box: Sandbox) -> None:
    result = box.coi("run", "--writable-git-hooks", "--", "touch", ".git/hooks/x")
    assert result.returncode == 0, result.stderr
    assert (box.workspace / ".git" / "hooks" / "x").exists()


def test_process_limit_contains_a_fork_bomb(box: Sandbox) -> None:
    bomb = ("timeout -s KILL 5 sh -c 'b(){ b | b & }; b' >/dev/null 2>&1; "
            "read m < /sys/fs/cgroup/pids/pids.max; read c < /sys/fs/cgroup/pids/pids.current;"
            " echo $m $c")
    result = box.coi("run", "--limit-processes", "50", "--", "bash", "-c", bomb, timeout=120)
    limit, current = result.stdout.decode().split()
    assert limit == "50" and int(current) <= 50, result


def test_limits_reach_a_persistent_container(box: Sandbox) -> None:
    started = box.coi("shell", "--background", "--tool", "dummy", "--persistent",
                      "--limit-processes", "50", "--limit-memory", "512MiB")
    assert started.returncode == 0, started.stderr
    config = instances.get(box.client, box.name()).config
    assert config["limits.processes"] == "50" and config["limits.memory"] == "512MiB"


def test_duration_limit_ends_a_shell_session_saved(box: Sandbox) -> None:
    started = box.coi("shell", "--background", "--tool", "dummy", "--limit-duration", "20s")
    assert started.returncode == 0, started.stderr
    name = box.name()
    wait_until(lambda: box.sessions() and box.only_session().ended, 60,
               "the session to end at its time limit")
    record = box.only_session()
    assert record.end_reason == "time-limit" and record.has_state
    assert box.status(name) == "Gone"


def test_run_duration_limit_exits_124(box: Sandbox) -> None:
    result = box.coi("run", "--limit-duration", "3s", "--", "sleep", "60", timeout=60)
    assert result.returncode == 124
    assert b"--limit-duration" in result.stderr

