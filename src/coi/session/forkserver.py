"""One warm process that forks the session supervisors, so they share their code.

Every session has its own supervisor process for as long as it runs. Started with
`python -m coi _supervise`, each would load the same ~13 MB of modules on its own
(10 sessions: ~160 MB). Forked from this server instead, which has imported them and
frozen them out of the garbage collector's reach (`gc.freeze`), they share those pages
copy-on-write and each keeps only what it writes (see bench/README.md, memory).

    python -m coi.session.forkserver SOCKET

listens on a unix socket in `~/.coi/run/` (mode 0600, in a 0700 directory). `coi
shell` sends one request per session: the supervisor's spec and environment as
JSON, and three descriptors (SCM_RIGHTS): the run lock, the "ready" pipe and the log
file. The server forks; the child starts a new session (setsid), forks once more and
exits, and the grandchild, owning nothing of the server, becomes the supervisor:
exactly what `coi.session.daemon.spawn` does with a fresh interpreter.

The socket's name carries a digest of coi's code (every module's mtime), so a server
started by an older coi is never used after an upgrade; it leaves on its own after
`IDLE_SECONDS` without a request. When anything here fails, `spawn` starts the
supervisor the plain way: this is only about memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

IDLE_SECONDS = 600.0
CHECK_SECONDS = 5.0  # how often an idle server checks its socket is still its own
CONNECT_TIMEOUT = 10.0
MAX_REQUEST = 1 << 20
FDS = 3  # run lock, ready pipe, log file


def code_digest() -> str:
    """Changes whenever any module of coi changes (or another interpreter runs it)."""
    import coi

    root = Path(coi.__file__).parent
    digest = hashlib.sha256(sys.executable.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(f"{path}:{path.stat().st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def socket_path(run_dir: Path) -> Path:
    return run_dir / f"forkserver-{code_digest()}.sock"


# -- the client side (coi shell) -------------------------------------------------------


def request(run_dir: Path, spec: str, fds: tuple[int, int, int]) -> None:
    """Have the server (started if need be) fork the supervisor of `spec` (its JSON).
    OSError when that cannot be done; the caller then starts one the plain way."""
    path = socket_path(run_dir)
    sock = _connect(path) or _start_and_connect(path)
    with sock:
        body = json.dumps({"spec": spec, "env": dict(os.environ)}).encode()
        socket.send_fds(sock, [body], list(fds))
        sock.shutdown(socket.SHUT_WR)
        reply = sock.recv(64)
    if reply.strip() != b"ok":
        raise OSError(f"the fork server said {reply!r}")


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except OSError:
        sock.close()
        raise
    return sock


def _start_and_connect(path: Path) -> socket.socket:
    """Start a server under a lock (one at a time), then connect to it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sock = _connect(path)
        if sock is not None:
            return sock
        path.unlink(missing_ok=True)  # a server that died left its socket behind
        subprocess.Popen([sys.executable, "-m", "coi.session.forkserver", str(path)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, cwd="/")
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while time.monotonic() < deadline:
            sock = _connect(path)
            if sock is not None:
                return sock
            time.sleep(0.02)
        raise OSError(f"the fork server did not start at {path}")
    finally:
        os.close(lock)


# -- the server --------------------------------------------------------------------------


def serve(path: Path) -> None:
    """Listen until idle for IDLE_SECONDS, forking a supervisor per request."""
    import coi.session.daemon
    import coi.session.sentry
    import coi.session.supervisor  # noqa: F401 - warm the code the children run
    from coi.incus import client, instances, remotes  # noqa: F401
    from coi.monitor import (  # noqa: F401
        audit,
        cgroup,
        engine,
        execwatch,
        netevents,
        nflog,
        nftwatch,
        respond,
        rotation,
    )
    from coi.session import store, watch  # noqa: F401

    gc.collect()
    gc.freeze()  # the children's collections will not touch (and copy) these objects
    old = os.umask(0o177)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    bound = os.stat(path).st_ino
    listener.listen(16)
    listener.settimeout(CHECK_SECONDS)
    last = time.monotonic()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if time.monotonic() - last > IDLE_SECONDS or not _still_ours(path, bound):
                    return
                continue
            last = time.monotonic()
            with conn:
                _handle(conn, listener)
    finally:
        with contextlib.suppress(OSError):
            if _still_ours(path, bound):
                path.unlink()
        listener.close()


def _still_ours(path: Path, bound: int) -> bool:
    """Whether `path` is still the socket this server bound (inode `bound`): not removed
    with its directory, not replaced by another server's."""
    try:
        return os.stat(path).st_ino == bound
    except OSError:
        return False


def _handle(conn: socket.socket, listener: socket.socket) -> None:
    conn.settimeout(CONNECT_TIMEOUT)
    try:
        body, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, FDS)
        data = body
        while len(fds) == FDS and (chunk := conn.recv(MAX_REQUEST)):
            data += chunk
        if len(fds) != FDS:
            raise ValueError(f"expected {FDS} descriptors, got {len(fds)}")
        payload = json.loads(data)
    except (OSError, ValueError) as exc:
        with contextlib.suppress(OSError):
            conn.sendall(f"error {exc}\n".encode())
        return
    try:
        pid = os.fork()
        if pid == 0:
            _child(payload, fds, conn, listener)  # never returns
        os.waitpid(pid, 0)  # the first child exits as soon as it has forked
        conn.sendall(b"ok\n")
    finally:
        for fd in fds:
            os.close(fd)


def _child(payload: dict[str, object], fds: list[int], conn: socket.socket,
           listener: socket.socket) -> None:
    code = 1
    try:
        conn.close()
        listener.close()
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        lock_fd, ready_fd, log_fd = fds
        _redirect(log_fd)
        env = payload.get("env")
        if isinstance(env, dict):
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in env.items()})
        from coi.session.daemon import run_supervisor

        code = run_supervisor(str(payload.get("spec", "")), lock_fd, ready_fd)
    except BaseException:  # the child must never return into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _redirect(log_fd: int) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.chdir("/")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m coi.session.forkserver SOCKET", file=sys.stderr)
        sys.exit(2)
    serve(Path(sys.argv[1]))
