"""Health status aggregation, the JSON shape and exit codes."""

from __future__ import annotations

from typing import Any

import pytest

from coi.errors import IncusError
from coi.host.health import CheckResult, Report, Status, overall, result, run_checks


@pytest.mark.parametrize(("statuses", "expected"), [
    ([], "healthy"),
    ([Status.OK, Status.OK], "healthy"),
    ([Status.OK, Status.WARN], "degraded"),
    ([Status.WARN, Status.FAIL, Status.OK], "unhealthy"),
])
def test_overall(statuses: list[Status], expected: str) -> None:
    assert overall(statuses) == expected


def test_report_exit_codes() -> None:
    def report(*statuses: Status) -> Report:
        return Report(tuple(result(f"c{i}", s, "m", "fix") for i, s in enumerate(statuses)))

    assert report(Status.OK).exit_code == 0
    assert report(Status.OK, Status.WARN).exit_code == 1
    assert report(Status.WARN, Status.FAIL).exit_code == 2


def test_json_shape_is_stable() -> None:
    report = Report((result("storage", Status.WARN, "pool uses dir", "make a btrfs pool",
                            details={"driver": "dir"}),
                     result("incus", Status.OK, "Incus 6.0.4", "never shown")))
    assert report.to_json() == {
        "status": "degraded",
        "checks": [
            {"name": "storage", "status": "warn", "message": "pool uses dir",
             "fix": "make a btrfs pool", "details": {"driver": "dir"}},
            {"name": "incus", "status": "ok", "message": "Incus 6.0.4", "fix": None,
             "details": {}},
        ],
    }


def test_a_check_that_raises_becomes_a_failure_and_the_rest_still_run() -> None:
    def broken(probe: Any) -> CheckResult:
        raise IncusError("daemon hung up", hint="restart it")

    def crashing(probe: Any) -> CheckResult:
        raise KeyError("config")

    def fine(probe: Any) -> CheckResult:
        return result("fine", Status.OK, "ok")

    report = run_checks([("broken", broken), ("crashing", crashing), ("fine", fine)], None)
    assert [(c.name, c.status) for c in report.checks] == [
        ("broken", Status.FAIL), ("crashing", Status.FAIL), ("fine", Status.OK)]
    assert report.checks[0].fix == "restart it"
    assert "KeyError" in report.checks[1].message
