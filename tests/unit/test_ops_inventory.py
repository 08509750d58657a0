"""The JSON shapes of `coi container list` and `info`, from raw Incus data."""

from __future__ import annotations

from coi.incus.instances import Instance
from coi.ops.inventory import details, summary

RAW = {
    "name": "web", "status": "Running", "type": "container", "ephemeral": True,
    "profiles": ["default"], "created_at": "2025-01-02T03:04:05Z",
    "config": {"security.nesting": "true", "volatile.idmap.base": "0"},
    "expanded_config": {"image.description": "Debian", "volatile.base_image": "abc123"},
    "devices": {"ws": {"type": "disk", "path": "/workspace", "source": "/p"}},
    "snapshots": [{"name": "s1"}],
    "state": {"status": "Running", "pid": 42, "processes": 7, "memory": {"usage": 1024},
              "network": {"eth0": {"addresses": [
                  {"family": "inet", "address": "10.0.0.5", "scope": "global"},
                  {"family": "inet6", "address": "fd00::5", "scope": "global"},
                  {"family": "inet6", "address": "fe80::1", "scope": "link"}]}}},
}


def test_summary_shape() -> None:
    assert summary(Instance.from_api(RAW)) == {
        "name": "web", "status": "Running", "type": "container", "ephemeral": True,
        "ipv4": ["10.0.0.5"], "image": "Debian", "image_fingerprint": "abc123",
        "created": "2025-01-02T03:04:05Z"}


def test_details_add_state_config_devices_and_snapshots() -> None:
    data = details(Instance.from_api(RAW))
    assert set(data) - set(summary(Instance.from_api(RAW))) == {
        "profiles", "ipv6", "pid", "processes", "memory_bytes", "config", "devices",
        "snapshots"}
    assert data["config"] == {"security.nesting": "true"}  # volatile.* left out
    assert (data["ipv6"], data["pid"], data["memory_bytes"]) == (["fd00::5"], 42, 1024)
    assert data["snapshots"] == ["s1"]


def test_a_stopped_instance_has_empty_live_fields() -> None:
    data = details(Instance.from_api({"name": "x", "status": "Stopped"}))
    assert (data["ipv4"], data["pid"], data["processes"], data["image"]) == ([], 0, 0, "")
