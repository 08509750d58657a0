"""What the monitor does about a finding, per the session's `[monitoring]` settings.

  INFO      logged
  WARNING   logged and shown ("alerted": `coi shell` prints it from the audit log)
  HIGH      logged, shown, the container paused (frozen) until `coi unfreeze`
            (with `auto_pause_on_high = false`: only shown)
  CRITICAL  every process killed at once (or frozen), the container stopped, then
            logged; the supervisor saves the session's data from the stopped container
            and ends the session (with `auto_kill_on_critical = false`: paused as for
            HIGH)

The actions themselves (Incus calls, marks on the session) belong to the caller,
through `Actions`; this module decides and writes the audit log. Every decision is
written before the next finding is looked at, so the log never misses one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from coi.monitor.audit import AuditLog, event
from coi.monitor.engine import Settings
from coi.monitor.findings import Finding, Severity


class Actions(Protocol):
    def pause(self, finding: Finding) -> None:
        """Freeze the container (raise on failure)."""

    def kill(self, finding: Finding) -> None:
        """Kill every process of the container at once (else freeze it), then
        force-stop it (raise on failure)."""


def threat_mark(finding: Finding, action: str) -> dict[str, Any]:
    """What the session record and the container's `user.coi.monitor` key keep."""
    return {"state": action, "severity": finding.severity.label,
            "detector": finding.detector, "title": finding.title,
            "time": datetime.now(UTC).isoformat(timespec="seconds")}


class Responder:
    def __init__(self, container: str, log: AuditLog, settings: Settings,
                 actions: Actions) -> None:
        self.container = container
        self.log = log
        self.settings = settings
        self.actions = actions
        self.state = "running"  # running, paused, killed
        self.cause: Finding | None = None  # what paused or killed it
        # What the user unfroze the container for: seen again, shown but not paused for.
        self.acknowledged: set[tuple[str, str]] = set()

    def handle(self, findings: Iterable[Finding]) -> list[dict[str, Any]]:
        """Act on `findings`, worst first; returns the audit events written."""
        written = []
        for finding in sorted(findings, key=lambda f: -f.severity):
            if self.state == "killed":
                break
            written.append(self.record(finding, self._act(finding)))
        return written

    def record(self, finding: Finding, action: str) -> dict[str, Any]:
        entry = event(finding, self.container, action)
        self.log.append(entry)
        return entry

    def resumed(self) -> None:
        """The user unfroze the container (`coi unfreeze`): watch it again."""
        if self.state == "paused":
            if self.cause is not None:
                self.acknowledged.add((self.cause.detector, self.cause.key))
            self.state = "running"
            self.cause = None

    def _act(self, finding: Finding) -> str:
        if finding.severity >= Severity.CRITICAL and self.settings.auto_kill_on_critical:
            return self._kill(finding)
        if finding.severity >= Severity.HIGH and (self.settings.auto_pause_on_high
                                                  or finding.severity >= Severity.CRITICAL):
            return self._pause(finding)
        return "logged" if finding.severity == Severity.INFO else "alerted"

    def _kill(self, finding: Finding) -> str:
        try:
            self.actions.kill(finding)
        except Exception:  # any failure: fall back to pausing
            return "paused" if self._pause(finding) == "paused" else "kill-failed"
        self.state, self.cause = "killed", finding
        return "killed"

    def _pause(self, finding: Finding) -> str:
        if self.state == "paused" or (finding.detector, finding.key) in self.acknowledged:
            return "alerted"
        try:
            self.actions.pause(finding)
        except Exception:  # logged as such; the caller's log has the details
            return "pause-failed"
        self.state, self.cause = "paused", finding
        return "paused"
