"""`coi list` shows containers and saved sessions the monitor paused or killed."""

from __future__ import annotations

import json
from pathlib import Path

from coi.cli import list_cmd
from coi.incus.instances import Instance
from coi.session.listing import parse_monitor, saved_sessions, session_containers
from tests.unit.test_lifecycle_fakes import container, store_at, stored
from tests.unit.test_listing import api

MARK = json.dumps({"state": "paused", "severity": "high", "detector": "env_scan",
                   "title": "Environment scan", "time": "2026-03-01T10:00:00+00:00"})


def test_the_monitor_marker_is_read_from_the_container() -> None:
    [c] = session_containers([Instance.from_api(api("coi-0123abcd-1", "Frozen",
                                                    **{"user.coi.monitor": MARK}))], "coi-")
    assert c.monitor_state == "paused-by-monitor" and c.monitor is not None
    assert c.to_json()["monitor_state"] == "paused-by-monitor"
    assert c.to_json()["monitor"]["detector"] == "env_scan"
    text = list_cmd.text([c], None)
    assert ("    Monitor: paused by monitor (HIGH: Environment scan, 2026-03-01 10:00:00 UTC)"
            in text.splitlines())
    assert "    Resume with: coi unfreeze coi-0123abcd-1" in text
    [plain] = session_containers([Instance.from_api(api("coi-0123abcd-2"))], "coi-")
    assert plain.monitor_state is None and plain.to_json()["monitor"] is None
    assert "Monitor:" not in list_cmd.text([plain], None)


def test_marker_values() -> None:
    assert parse_monitor("") is None and parse_monitor(None) is None
    assert parse_monitor('{"state":"killed"}') == {"state": "killed"}
    assert parse_monitor("garbage") == {"state": "paused", "title": "garbage"}


def test_saved_sessions_show_the_threat(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    threat = {"severity": "critical", "detector": "reverse_shell", "action": "killed",
              "title": "Reverse shell detected", "time": "2026-03-01T10:00:00+00:00"}
    stored(store, container(), end_reason="threat", ended_at="2026-03-01T10:00:01+00:00",
           threat=threat)
    stored(store, container(workspace="/b"), saved_at="2026-01-01T00:00:00+00:00")
    listed = saved_sessions(store)
    states = sorted(str(s.to_json()["monitor_state"]) for s in listed)
    assert states == ["None", "killed-by-monitor"]
    text = list_cmd.text([], listed)
    assert ("    Monitor: killed by monitor (CRITICAL: Reverse shell detected, "
            "2026-03-01 10:00:00 UTC)") in text.splitlines()
    assert text.count("Monitor:") == 1
