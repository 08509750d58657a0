"""A dict-backed image store that answers the REST calls `coi image` makes.

(Named test_image_cmd_* to stay within the image command's files; it holds no tests.)
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from coi.errors import CoiError, IncusConflict, IncusError, IncusNotFound


def fingerprint(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def image_json(seed: str, *aliases: str, created: str = "2025-01-01T12:00:00Z",
               size: int = 3 * 1024 * 1024, **properties: str) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint(seed), "aliases": [{"name": a} for a in aliases],
        "properties": properties, "created_at": created, "uploaded_at": created,
        "size": size, "architecture": "x86_64", "public": False, "type": "container",
    }


class FakeIncus:
    """Images, aliases and instances in dicts; `fail` makes every call raise it."""

    def __init__(self, *images: dict[str, Any], instances: dict[str, dict[str, Any]] | None = None,
                 fail: CoiError | None = None) -> None:
        self.images = {i["fingerprint"]: i for i in images}
        self.instances = dict(instances or {})
        self.fail = fail
        self.calls: list[tuple[str, str, Any]] = []
        self.stop_refusals = 0  # how many clean stops time out before one works

    # -- lookups ------------------------------------------------------------------------

    def _alias(self, name: str) -> dict[str, Any]:
        for image in self.images.values():
            if any(a["name"] == name for a in image["aliases"]):
                return image
        raise IncusNotFound(f"alias {name}: Not Found", status_code=404)

    def _image(self, ref: str) -> dict[str, Any]:
        found = [i for fp, i in self.images.items() if fp.startswith(ref)]
        if not ref or len(found) != 1:
            raise IncusNotFound(f"image {ref}: Image not found", status_code=404)
        return found[0]

    def _instance(self, name: str) -> dict[str, Any]:
        if name not in self.instances:
            raise IncusNotFound(f"instance {name}: Instance not found", status_code=404)
        return self.instances[name]

    def get(self, path: str, params: Any = None, context: str = "") -> Any:
        self._record("GET", path, params)
        if path == "/images":
            return list(self.images.values())
        if path.startswith("/images/aliases/"):
            name = path.removeprefix("/images/aliases/")
            return {"name": name, "target": self._alias(name)["fingerprint"]}
        if path.startswith("/images/"):
            return self._image(path.removeprefix("/images/"))
        return {"name": path.rsplit("/", 1)[-1], **self._instance(path.rsplit("/", 1)[-1])}

    # -- changes ------------------------------------------------------------------------

    def sync(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        self._record(method, path, body)
        if method == "DELETE" and path.startswith("/images/"):
            del self.images[self._image(path.removeprefix("/images/"))["fingerprint"]]
            return None
        if method == "PUT" and path.endswith("/state"):
            return self._stop(path.split("/")[2], body)
        if method == "POST" and path == "/images":
            return self._publish(body)
        raise AssertionError(f"unexpected {method} {path}")

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        self._record(method, path, body)
        if method == "POST" and path == "/images/aliases":
            with contextlib.suppress(IncusNotFound):
                self._alias(body["name"])
                raise IncusConflict("Alias already exists", status_code=409)
            self.images[body["target"]]["aliases"].append({"name": body["name"]})
            return None
        if method == "PATCH":
            name = path.removeprefix("/images/aliases/")
            self._alias(name)["aliases"].remove({"name": name})
            self.images[body["target"]]["aliases"].append({"name": name})
            return None
        raise AssertionError(f"unexpected {method} {path}")

    def _stop(self, name: str, body: dict[str, Any]) -> None:
        instance = self._instance(name)
        if instance["status"] == "Stopped":
            raise IncusError("The instance is already stopped", status_code=400)
        if not body.get("force") and self.stop_refusals > 0:
            self.stop_refusals -= 1
            raise IncusError("Failed shutting down instance: timeout", status_code=400)
        instance["status"] = "Stopped"

    def _publish(self, body: dict[str, Any]) -> dict[str, str]:
        name = body["source"]["name"]
        if self._instance(name)["status"] != "Stopped":
            raise IncusError("The instance is currently running", status_code=400)
        image = image_json(f"{name}-{len(self.images)}", **body["properties"])
        self.images[image["fingerprint"]] = image
        return {"fingerprint": image["fingerprint"]}

    def _record(self, method: str, path: str, body: Any) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append((method, path, body))

    def aliases(self) -> dict[str, list[str]]:
        return {fp[:12]: sorted(a["name"] for a in i["aliases"]) for fp, i in self.images.items()}


def use_fake(monkeypatch: pytest.MonkeyPatch, fake: FakeIncus, default: str = "coi") -> None:
    """Make `coi image` talk to `fake`, with `default` as the configured default image."""

    @contextlib.contextmanager
    def connection() -> Iterator[tuple[FakeIncus, str]]:
        yield fake, default

    monkeypatch.setattr("coi.cli.image._connection", connection)
