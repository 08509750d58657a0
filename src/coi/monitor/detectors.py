"""Detectors: pure functions from a `Snapshot` to `Finding`s.

Reverse shells are caught two ways: by command line (`patterns`) and, more robustly, by
file descriptors — a shell or interpreter whose stdin or stdout is a TCP connection to
a non-loopback peer is a remote shell however its payload was obfuscated.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from coi.monitor import patterns
from coi.monitor.findings import Finding, Severity
from coi.monitor.netstat import Socket
from coi.monitor.procs import Proc, Snapshot

SHELLS = frozenset({
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "csh", "tcsh",
    "perl", "ruby", "php", "node", "lua", "irb", "pwsh", "tclsh", "expect",
})
_PYTHON = re.compile(r"python[\d.]*m?")
_ENVIRON_FD = re.compile(r"^/proc/(\d+)/environ$")


def is_shell_like(proc: Proc) -> bool:
    names = {proc.name, proc.exe_name}
    return bool(names & SHELLS) or any(_PYTHON.fullmatch(n) for n in names)


def _finding(severity: Severity, detector: str, title: str, proc: Proc,
             **extra: object) -> Finding:
    return Finding(severity, detector, title, {**proc.evidence(), **extra}, key=str(proc.pid))


def socket_on_stdio(proc: Proc) -> bool:
    """A shell-like process with a socket on fd 0 or 1: the only case where the
    descriptor check needs the socket tables (`procs.scan(needs_sockets=...)`)."""
    return is_shell_like(proc) and any(proc.fds.get(fd, "").startswith("socket:[")
                                       for fd in (0, 1))


def remote_stdio(proc: Proc, snapshot: Snapshot) -> Socket | None:
    """The connected non-loopback TCP socket on fd 0 or 1, if any."""
    for fd in (0, 1):
        sock = snapshot.socket_of(proc.fds.get(fd, ""))
        if (sock is not None and sock.proto.startswith("tcp") and sock.connected
                and not sock.remote_is_loopback):
            return sock
    return None


def reverse_shell_by_fds(snapshot: Snapshot) -> Iterator[Finding]:
    for proc in snapshot.procs:
        sock = remote_stdio(proc, snapshot) if is_shell_like(proc) else None
        if sock is not None:
            yield _finding(Severity.CRITICAL, "reverse_shell", "Reverse shell detected", proc,
                           reason="stdin/stdout is a network socket", socket=sock.evidence())


def reverse_shell_by_cmdline(snapshot: Snapshot) -> Iterator[Finding]:
    for proc in snapshot.procs:
        rule = patterns.match_rules(patterns.REVERSE_SHELL_RULES, proc.command)
        if rule is not None:
            yield _finding(Severity.CRITICAL, "reverse_shell", "Reverse shell detected", proc,
                           reason=f"command line matches {rule}", pattern=rule)


def env_scan_by_fds(snapshot: Snapshot) -> Iterator[Finding]:
    for proc in snapshot.procs:
        for target in proc.fds.values():
            match = _ENVIRON_FD.match(target)
            if match and int(match.group(1)) != proc.ns_pid:
                yield _finding(Severity.HIGH, "env_scan", "Environment scanning", proc,
                               reason="reads another process's environment", path=target)
                break


def env_scan_by_cmdline(snapshot: Snapshot) -> Iterator[Finding]:
    for proc in snapshot.procs:
        text = proc.command
        path = patterns.other_environ_reference(text, proc.ns_pid)
        rule = patterns.match_rules(patterns.ENV_SCAN_RULES, text)
        if path is not None or rule is not None:
            reason = f"references {path}" if path else f"command line matches {rule}"
            yield _finding(Severity.HIGH, "env_scan", "Environment scanning", proc,
                           reason=reason)


def env_scan_by_pipeline(snapshot: Snapshot) -> Iterator[Finding]:
    """`env | grep -i token` typed in a shell: `env` and a filter for a secret-shaped
    word running side by side as children of the same parent."""
    for siblings in _by_parent(snapshot.procs).values():
        dumpers = [p for p in siblings if p.exe_name in patterns.DUMP_COMMANDS
                   and len(p.cmdline) <= 1]
        filters = [p for p in siblings if p.exe_name in patterns.FILTER_COMMANDS
                   and patterns.SECRET_WORD.search(" ".join(p.cmdline[1:]))]
        if dumpers and filters:
            yield _finding(Severity.HIGH, "env_scan", "Environment scanning", filters[0],
                           reason="environment piped into a filter for secrets",
                           pipeline=[p.command for p in (*dumpers, *filters)])


def credential_sweep(snapshot: Snapshot, min_files: int = 3) -> Iterator[Finding]:
    """One process holding open, or naming, several credential-shaped files."""
    for proc in snapshot.procs:
        paths = {t for t in proc.fds.values() if patterns.is_credential_path(t)}
        paths |= {a for a in proc.cmdline[1:] if patterns.is_credential_path(a)}
        if len(paths) >= min_files:
            yield _finding(Severity.HIGH, "credential_scan", "Credential files read in bulk",
                           proc, files=sorted(paths)[:20], count=len(paths))


def _by_parent(procs: Iterable[Proc]) -> dict[int, list[Proc]]:
    groups: dict[int, list[Proc]] = defaultdict(list)
    for proc in procs:
        groups[proc.ppid].append(proc)
    return groups


DETECTORS = (reverse_shell_by_fds, reverse_shell_by_cmdline, env_scan_by_fds,
             env_scan_by_cmdline, env_scan_by_pipeline, credential_sweep)


def detect(snapshot: Snapshot) -> list[Finding]:
    """Every detector over one snapshot, one finding per (detector, pid): the first
    (the descriptor-based reverse shell wins over the command-line one)."""
    seen: set[tuple[str, str]] = set()
    found = []
    for detector in DETECTORS:
        for finding in detector(snapshot):
            ident = (finding.detector, finding.key)
            if ident not in seen:
                seen.add(ident)
                found.append(finding)
    return sorted(found, key=lambda f: -f.severity)
