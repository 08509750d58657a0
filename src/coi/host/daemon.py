"""Start the Incus daemon and wait until it answers.

Under systemd the distribution's units do it. Without systemd (containers, CI runners,
WSL) coi starts incusd itself in its own session, records its pid in /run/coi/incusd.pid
and sends its output to /var/log/incus/incusd.log. incusd copies every log line to stderr
even with --logfile, so we send stderr to the log file instead: one copy of each line,
plus anything the runtime prints on a crash.
"""

from __future__ import annotations

import grp
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from coi.errors import IncusError, IncusPermissionDenied, IncusUnreachable, SetupError
from coi.host.proc import run, tail
from coi.incus.client import Client

INCUSD_CANDIDATES = ("/usr/libexec/incus/incusd", "/usr/lib/incus/incusd",
                     "/opt/incus/bin/incusd")
PID_FILE = Path("/run/coi/incusd.pid")
LOG_FILE = Path("/var/log/incus/incusd.log")
ADMIN_GROUP = "incus-admin"
READY_TIMEOUT = 60.0
STEP = "start Incus"


def find_incusd() -> str | None:
    for path in INCUSD_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("incusd")


def systemd_is_init() -> bool:
    """The check sd_booted() makes: systemd is PID 1 when this directory exists."""
    return Path("/run/systemd/system").is_dir()


def answer(client: Client) -> dict[str, Any] | None:
    """The daemon's /1.0 document, or None when nothing answers on the socket."""
    try:
        return client.server_info()
    except IncusPermissionDenied:
        raise
    except IncusUnreachable:
        client.close()
        return None


def group_exists(name: str = ADMIN_GROUP) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def start(client: Client, timeout: float = READY_TIMEOUT) -> str:
    """Start the daemon the way this host starts services; return how it was started."""
    if systemd_is_init():
        run(["systemctl", "enable", "--now", "incus.socket", "incus.service"], step=STEP,
            fix="see `journalctl -u incus`")
        wait_ready(client, timeout, None)
        return "started incus.service with systemd"
    proc = spawn()
    wait_ready(client, timeout, proc)
    return f"started incusd (pid {proc.pid}, pid file {PID_FILE}, log {LOG_FILE})"


def spawn() -> subprocess.Popen[bytes]:
    """incusd in the background, in its own session so it outlives this process.

    Not through `proc.run`: this is a daemon we leave running, not a command we wait for.
    """
    incusd = find_incusd()
    if incusd is None:
        raise SetupError(f"{STEP}: incusd is not installed", hint="run `sudo coi setup` again")
    argv = [incusd, "--group", ADMIN_GROUP] if group_exists() else [incusd]
    PID_FILE.parent.mkdir(parents=True, exist_ok=True)
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
                                start_new_session=True, close_fds=True)
    finally:
        os.close(log_fd)
    PID_FILE.write_text(f"{proc.pid}\n")
    return proc


def wait_ready(client: Client, timeout: float, proc: subprocess.Popen[bytes] | None) -> None:
    """Poll GET /1.0 until it answers; fail early (with the log) if incusd died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            PID_FILE.unlink(missing_ok=True)
            raise SetupError(f"{STEP}: incusd exited with status {proc.returncode}\n"
                             f"{log_tail()}", hint=f"read {LOG_FILE}")
        try:
            if answer(client) is not None:
                return
        except IncusError:
            pass  # the socket exists but the daemon is still initialising
        time.sleep(0.1)
    raise SetupError(f"{STEP}: the daemon did not answer within {timeout:.0f} s\n{log_tail()}",
                     hint=f"read {LOG_FILE}")


def log_tail() -> str:
    try:
        return tail(LOG_FILE.read_text(errors="replace"))
    except OSError:
        return ""
