"""Fakes shared by the host unit tests: a dict-backed Incus client and a test user.

(Named test_host_* so it stays within the host tests' files; it holds no tests itself.)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from coi.errors import IncusNotFound, IncusUnreachable
from coi.host.invoker import User
from coi.incus.transport import Endpoint

ROOT = User("root", 0, 0, Path("/root"))
ALICE = User("alice", 1000, 1000, Path("/home/alice"))


def server(version: str = "6.0.4", drivers: tuple[str, ...] = ("btrfs", "dir")) -> dict[str, Any]:
    return {"environment": {
        "server_version": version, "driver": "lxc", "firewall": "nftables",
        "storage_supported_drivers": [{"Name": d, "Remote": False} for d in drivers],
    }}


class FakeClient:
    """Answers GETs from `objects` (path → metadata) and records every call.

    POSTs to the collections coi creates (pools, networks, profiles) add the object, so a
    check after an apply sees it, as with the real daemon.
    """

    def __init__(self, objects: dict[str, Any] | None = None,
                 info: dict[str, Any] | Exception | None = None) -> None:
        self.objects: dict[str, Any] = copy.deepcopy(objects or {})
        self.info = server() if info is None else info
        self.calls: list[tuple[str, str, Any]] = []
        self.endpoint = Endpoint(socket_path="/fake/unix.socket")
        self.closed = False

    def server_info(self) -> dict[str, Any]:
        self.calls.append(("GET", "", None))
        if isinstance(self.info, Exception):
            raise self.info
        return dict(self.info)

    def get(self, path: str, params: Any = None, context: str = "") -> Any:
        self.calls.append(("GET", path, params))
        if isinstance(self.info, IncusUnreachable):
            raise self.info
        if params and params.get("recursion") == "1":
            prefix = path.rstrip("/") + "/"
            return [copy.deepcopy(v) for k, v in self.objects.items() if k.startswith(prefix)]
        if path not in self.objects:
            raise IncusNotFound(f"{path} not found", status_code=404)
        return copy.deepcopy(self.objects[path])

    def sync(self, method: str, path: str, body: Any = None, *, params: Any = None,
             timeout: float | None = None, context: str = "") -> Any:
        self.calls.append((method, path, body))
        if method == "POST" and path in ("/storage-pools", "/networks", "/profiles"):
            self.objects[f"{path}/{body['name']}"] = {**body, "managed": True}
        elif method == "PUT":
            self.objects[path] = {**self.objects.get(path, {}), **body}
        return {}

    def writes(self) -> list[tuple[str, str, Any]]:
        return [call for call in self.calls if call[0] != "GET"]

    def close(self) -> None:
        self.closed = True


def standard_objects() -> dict[str, Any]:
    """A host set up the usual way: pool, bridge, profile and base image."""
    return {
        "/storage-pools/default": {"name": "default", "driver": "btrfs",
                                   "config": {"size": "30GiB"}},
        "/networks/incusbr0": {"name": "incusbr0", "type": "bridge", "managed": True,
                               "config": {"ipv4.address": "10.77.0.1/24", "ipv4.nat": "true"}},
        "/profiles/default": {"name": "default", "config": {}, "description": "Default",
                              "devices": {
                                  "root": {"type": "disk", "path": "/", "pool": "default"},
                                  "eth0": {"type": "nic", "name": "eth0",
                                           "network": "incusbr0"}}},
        "/images/aliases/coi-base": {"name": "coi-base", "target": "684f5bf0b8fa0fc3"},
    }
