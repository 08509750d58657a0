"""The core of the Incus REST client: requests, responses, errors and operations.

Higher-level helpers (instances, exec, files, images, snapshots) build on `Client`.
Every daemon error becomes a typed CoiError that carries the daemon's own message.
"""

from __future__ import annotations

import errno
import http.client
import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from coi.errors import (
    CoiTimeout,
    IncusConflict,
    IncusError,
    IncusNotFound,
    IncusPermissionDenied,
    IncusUnreachable,
)
from coi.incus.transport import Endpoint, local_endpoint

API = "/1.0"
SETUP_HINT = "run `coi setup` (or start the daemon) and check `coi health`"


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


def error_for(status: int, message: str, context: str) -> IncusError:
    """Map a daemon error status to the typed error a caller can catch."""
    text = f"{context}: {message}" if context else message
    if status == 404:
        return IncusNotFound(text, status_code=status)
    if status == 409:
        return IncusConflict(text, status_code=status)
    if status == 403:
        return IncusPermissionDenied(
            text, hint="add your user to the incus-admin group", status_code=status
        )
    return IncusError(text, status_code=status)


def operation_id(path_or_id: str) -> str:
    return path_or_id.rstrip("/").rsplit("/", 1)[-1]


class Client:
    """A connection to one Incus daemon, in one project."""

    def __init__(
        self,
        endpoint: Endpoint | None = None,
        project: str = "default",
        timeout: float = 60.0,
    ) -> None:
        self.endpoint = endpoint or local_endpoint()
        self.project = project
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    # -- plumbing ---------------------------------------------------------------------

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """Full request path with the project added (unless the caller set one)."""
        query = dict(params or {})
        if self.project and self.project != "default" and "project" not in query:
            query["project"] = self.project
        full = path if path.startswith(API) else f"{API}{path}"
        return f"{full}?{urllib.parse.urlencode(query)}" if query else full

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> http.client.HTTPResponse:
        """Send a request and return the raw response (for file transfers and exports)."""
        target = self.url(path, params)
        for attempt in (1, 2):
            conn = self._connection(timeout)
            try:
                conn.request(method, target, body=body, headers=dict(headers or {}))
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the daemon closed: reconnect once.
                self.close()
                if attempt == 2:
                    raise self._unreachable(None) from None
            except OSError as exc:
                self.close()
                raise self._unreachable(exc) from exc
        raise AssertionError("unreachable")

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = self.endpoint.connect(self.timeout)
        wanted = self.timeout if timeout is None else timeout
        self._conn.timeout = wanted
        if self._conn.sock is not None:
            self._conn.sock.settimeout(wanted)
        return self._conn

    def _unreachable(self, exc: OSError | None) -> IncusError:
        where = self.endpoint.description
        if isinstance(exc, PermissionError) or (exc is not None and exc.errno == errno.EACCES):
            return IncusPermissionDenied(
                f"permission denied on the Incus {where}",
                hint="add your user to the incus-admin group and log in again, or use sudo",
            )
        if isinstance(exc, TimeoutError):
            return IncusUnreachable(f"the Incus daemon at {where} did not answer in time",
                                    hint=SETUP_HINT)
        return IncusUnreachable(f"cannot reach the Incus daemon at {where}", hint=SETUP_HINT)

    # -- requests ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        context: str = "",
    ) -> Response:
        """A JSON request. Raises the typed IncusError for any daemon error."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        resp = self.raw(method, path, data, headers, params, timeout)
        return self.decode(resp, context)

    def decode(self, resp: http.client.HTTPResponse, context: str = "") -> Response:
        payload = resp.read()
        try:
            doc = json.loads(payload) if payload else {}
        except json.JSONDecodeError:
            raise error_for(resp.status, payload[:200].decode(errors="replace"), context) from None
        if doc.get("type") == "error" or resp.status >= 400:
            status = int(doc.get("error_code") or resp.status)
            raise error_for(status, str(doc.get("error") or resp.reason), context)
        return Response(
            status_code=resp.status,
            kind=str(doc.get("type", "")),
            metadata=doc.get("metadata"),
            operation=doc.get("operation"),
            headers={k.lower(): v for k, v in resp.getheaders()},
        )

    def get(self, path: str, params: Mapping[str, str] | None = None, context: str = "") -> Any:
        return self.request("GET", path, params=params, context=context).metadata

    def sync(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        context: str = "",
    ) -> Any:
        """A request whose answer is final: if it starts an operation, wait for it."""
        resp = self.request(method, path, body, params, context=context)
        if resp.kind == "async" and resp.operation:
            return self.wait(resp.operation, timeout=timeout, context=context).metadata
        return resp.metadata

    # -- operations -------------------------------------------------------------------

    def wait(self, operation: str, timeout: float | None = None, context: str = "") -> Operation:
        """Wait for a background operation; raise its error if it failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        op_path = f"/operations/{operation_id(operation)}/wait"
        while True:
            chunk = 30.0 if deadline is None else max(0.0, min(30.0, deadline - time.monotonic()))
            meta = self.request(
                "GET", op_path, params={"timeout": str(int(chunk) or 1)},
                timeout=chunk + 30, context=context,
            ).metadata
            op = Operation.from_json(meta or {})
            if op.status_code >= 400 or op.status == "Failure":
                raise error_for(op.status_code if op.status_code >= 400 else 500,
                                op.err or op.status, context)
            if op.status in ("Success", "Cancelled"):
                return op
            if deadline is not None and time.monotonic() >= deadline:
                raise CoiTimeout(f"{context or 'operation'} did not finish in {timeout:.0f} s")

    def server_info(self) -> dict[str, Any]:
        info = self.get("")
        return dict(info or {})
