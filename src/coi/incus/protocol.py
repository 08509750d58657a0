"""The shapes of the Incus REST API: responses, operations, and its errors as types.

Kept apart from `client` (which re-exports these names) so the client stays small.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from coi.errors import IncusConflict, IncusError, IncusNotFound, IncusPermissionDenied

API = "/1.0"

# What `Client.raw` can send: nothing, bytes, or a stream (file or chunk iterator) that
# http.client sends piece by piece so large uploads never sit whole in memory.
Body = bytes | IO[bytes] | Iterable[bytes] | None


def quote(segment: str) -> str:
    """One URL path segment (an instance, snapshot or alias name)."""
    return urllib.parse.quote(segment, safe="")


@dataclass
class Response:
    """A decoded daemon answer. `metadata` is the payload; `operation` is set for async."""

    status_code: int
    kind: str
    metadata: Any
    operation: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Operation:
    """A background operation as the daemon reports it."""

    id: str
    status: str
    status_code: int
    err: str
    metadata: dict[str, Any]
    resources: dict[str, list[str]]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Operation:
        return cls(
            id=str(data.get("id", "")),
            status=str(data.get("status", "")),
            status_code=int(data.get("status_code", 0)),
            err=str(data.get("err", "") or ""),
            metadata=dict(data.get("metadata") or {}),
            resources=dict(data.get("resources") or {}),
        )

    @property
    def failed(self) -> bool:
        return self.status == "Failure" or self.status_code >= 400

    @property
    def done(self) -> bool:
        return self.failed or self.status in ("Success", "Cancelled")


def error_for(status: int, message: str, context: str) -> IncusError:
    """Map a daemon error status to the typed error a caller can catch."""
    text = f"{context}: {message}" if context else message
    if status == 404:
        return IncusNotFound(text, status_code=status)
    if status == 409:
        return IncusConflict(text, status_code=status)
    if "UNIQUE constraint failed" in message:
        # Incus 6.0 reports a taken name (instance, snapshot, ...) as a failed database
        # insert with a 400/500 status; the raw text helps nobody, so say what it means.
        return IncusConflict(f"{context or 'create'}: the name is taken", status_code=409)
    if status == 403:
        return IncusPermissionDenied(
            text, hint="add your user to the incus-admin group", status_code=status
        )
    return IncusError(text, status_code=status)


def operation_id(path_or_id: str) -> str:
    return path_or_id.rstrip("/").rsplit("/", 1)[-1]
