"""`coi health` as data: run every check, never stop at the first problem, grade the host.

Each check returns ok, warn or fail with a message and, when not ok, the fix. The report
is healthy (exit 0) when all are ok, degraded (1) with any warning, unhealthy (2) with
any failure. Checks that need the daemon still report (as failures pointing at the
`incus` check) when it is down, and nothing here reads coi's config, so a broken config
cannot stop the diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from coi.errors import CoiError

EXIT_CODES = {"healthy": 0, "degraded": 1, "unhealthy": 2}


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    message: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": str(self.status), "message": self.message,
                "fix": self.fix, "details": self.details}


def overall(statuses: Iterable[Status]) -> str:
    seen = set(statuses)
    if Status.FAIL in seen:
        return "unhealthy"
    if Status.WARN in seen:
        return "degraded"
    return "healthy"


@dataclass(frozen=True)
class Report:
    checks: tuple[CheckResult, ...]

    @property
    def status(self) -> str:
        return overall(check.status for check in self.checks)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "checks": [c.to_json() for c in self.checks]}


def result(name: str, status: Status, message: str, fix: str | None = None, *,
           details: dict[str, Any] | None = None) -> CheckResult:
    """A check's result; a fix is only shown for problems."""
    return CheckResult(name, status, message, None if status is Status.OK else fix,
                       dict(details or {}))


P = TypeVar("P")  # whatever the checks read their facts from


def run_checks(checks: Sequence[tuple[str, Callable[[P], CheckResult]]], probe: P) -> Report:
    """Run every check; one that raises becomes a failure instead of ending the report."""
    results = []
    for name, check in checks:
        try:
            results.append(check(probe))
        except CoiError as exc:
            results.append(result(name, Status.FAIL, exc.message,
                                  exc.hint or "run `coi health` again; if it persists, "
                                  "`sudo coi setup`"))
        except (OSError, ValueError, KeyError) as exc:
            results.append(result(name, Status.FAIL, f"check failed: {exc!r}",
                                  "report this as a coi bug"))
    return Report(tuple(results))


def run_health() -> Report:
    from coi.host import health_daemon as d
    from coi.host import health_local as h
    from coi.host.health_monitor import CHECKS as MONITOR_CHECKS
    from coi.host.health_probe import Probe
    from coi.limits import check_limits
    from coi.network import health as net

    checks = [("system", h.check_system), ("incus", d.check_incus),
              ("socket", h.check_socket), ("storage", d.check_storage),
              ("network", d.check_network), ("profile", d.check_profile),
              ("idmap", h.check_idmap), ("nftables", h.check_nftables),
              ("firewall", net.check_firewall), ("isolation", net.check_isolation),
              ("images", d.check_images), ("containers", d.check_containers),
              ("cgroups", h.check_cgroups), ("limits", check_limits), *MONITOR_CHECKS]
    probe = Probe()
    try:
        return run_checks(checks, probe)
    finally:
        probe.close()
