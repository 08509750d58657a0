"""Snapshots of an instance: create, list, get, restore, delete."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coi.errors import IncusError, IncusNotFound
from coi.incus.client import Client, quote


@dataclass(frozen=True)
class Snapshot:
    name: str  # the snapshot's own name, without the "instance/" prefix
    created_at: str
    stateful: bool
    expires_at: str = ""  # "" means never
    size: int = -1  # bytes on disk where the storage driver knows it, else -1

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls(
            name=str(data.get("name", "")).rsplit("/", 1)[-1],
            created_at=str(data.get("created_at", "")),
            stateful=bool(data.get("stateful")),
            expires_at=_when(data.get("expires_at")),
            size=int(data["size"]) if data.get("size") is not None else -1,
        )


def _when(value: Any) -> str:
    """A timestamp, or "" for Go's zero time (which the daemon sends for "never")."""
    text = str(value or "")
    return "" if text.startswith("0001-01-01") else text


def _path(instance: str, snapshot: str | None = None) -> str:
    base = f"/instances/{quote(instance)}/snapshots"
    return base if snapshot is None else f"{base}/{quote(snapshot)}"


def create(client: Client, instance: str, snapshot: str, *, stateful: bool = False,
           timeout: float | None = None) -> None:
    """Snapshot the instance. `stateful` also saves its memory (needs CRIU on the host).
    Raises IncusConflict if a snapshot of that name exists."""
    body = {"name": snapshot, "stateful": stateful}
    client.sync("POST", _path(instance), body, timeout=timeout,
                context=f"snapshot {instance}/{snapshot}")


def list_snapshots(client: Client, instance: str) -> list[Snapshot]:
    """The instance's snapshots, oldest first, in one request."""
    items = client.get(_path(instance), params={"recursion": "1"},
                       context=f"snapshots of {instance}")
    return sorted((Snapshot.from_api(i) for i in items or []), key=lambda s: s.created_at)


def get(client: Client, instance: str, snapshot: str) -> Snapshot:
    data = client.get(_path(instance, snapshot), context=f"snapshot {instance}/{snapshot}")
    return Snapshot.from_api(data)


def restore(client: Client, instance: str, snapshot: str, *, stateful: bool = False,
            timeout: float | None = None) -> None:
    """Roll the instance back to the snapshot (a running container is restarted)."""
    try:
        client.sync("PUT", f"/instances/{quote(instance)}",
                    {"restore": snapshot, "stateful": stateful}, timeout=timeout,
                    context=f"restore {instance}/{snapshot}")
    except IncusError as exc:
        # A missing snapshot comes back as a 400 here, not the 404 it is elsewhere.
        if exc.status_code == 400 and "does not exist" in exc.message:
            raise IncusNotFound(exc.message, status_code=404) from exc
        raise


def delete(client: Client, instance: str, snapshot: str, *,
           timeout: float | None = None) -> None:
    client.sync("DELETE", _path(instance, snapshot), timeout=timeout,
                context=f"delete snapshot {instance}/{snapshot}")


def rename(client: Client, instance: str, snapshot: str, new_name: str) -> None:
    client.sync("POST", _path(instance, snapshot), {"name": new_name},
                context=f"rename snapshot {instance}/{snapshot}")
