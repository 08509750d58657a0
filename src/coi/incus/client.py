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
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from coi.errors import CoiTimeout, IncusError, IncusPermissionDenied, IncusUnreachable
from coi.incus.protocol import (
    API,
    Body,
    Operation,
    Response,
    error_for,
    operation_id,
    quote,
)
from coi.incus.transport import Endpoint, local_endpoint

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

SETUP_HINT = "run `coi setup` (or start the daemon) and check `coi health`"

__all__ = [
    "API", "Body", "Client", "Operation", "Response", "error_for", "operation_id", "quote",
]


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
        body: Body = None,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> http.client.HTTPResponse:
        """Send a request and return the raw response (for file transfers and exports).

        The caller must read the response to its end before the next request.
        """
        target = self.url(path, params)
        streaming = body is not None and not isinstance(body, bytes)
        if streaming:
            # A stream cannot be sent twice, so it gets a fresh connection and no retry.
            self.close()
        for attempt in (1,) if streaming else (1, 2):
            conn = self._connection(timeout)
            try:
                conn.request(method, target, body=body, headers=dict(headers or {}))
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.ImproperConnectionState):
                # A kept-alive connection the daemon closed, or one left mid-response by
                # an earlier failure: start over on a new connection, once.
                self.close()
                if streaming or attempt == 2:
                    raise self._unreachable(None) from None
            except OSError as exc:
                self.close()
                raise self._unreachable(exc) from exc
            except BaseException:
                self.close()  # e.g. a streamed body that failed half-way
                raise
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
        *,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        context: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A JSON request. Raises the typed IncusError for any daemon error."""
        data = None if body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        resp = self.raw(method, path, data, headers=sent, params=params, timeout=timeout)
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
        *,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        context: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """A request whose answer is final: if it starts an operation, wait for it.

        For an operation the result is the operation's own metadata (e.g. a fingerprint).
        """
        resp = self.request(
            method, path, body, params=params, context=context, headers=headers
        )
        return self.finish(resp, timeout=timeout, context=context)

    def finish(self, resp: Response, timeout: float | None = None, context: str = "") -> Any:
        """The final metadata of a response, waiting for its operation if it has one."""
        if resp.kind == "async" and resp.operation:
            return self.wait(resp.operation, timeout=timeout, context=context).metadata
        return resp.metadata

    # -- operations -------------------------------------------------------------------

    def wait(
        self,
        operation: str,
        timeout: float | None = None,
        context: str = "",
        check: bool = True,
    ) -> Operation:
        """Wait for a background operation; raise its error if it failed (unless `check`
        is false: exec reports its exit code in the metadata of a failed operation)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        op_id = operation_id(operation)
        while True:
            left = 30.0 if deadline is None else deadline - time.monotonic()
            chunk = max(0.0, min(30.0, left))
            op = self._wait_once(op_id, chunk, context)
            if op.failed:
                if check:
                    status = op.status_code if op.status_code >= 400 else 500
                    raise error_for(status, op.err or op.status, context)
                return op
            if op.done:
                return op
            if deadline is not None and time.monotonic() >= deadline:
                raise CoiTimeout(f"{context or 'operation'} did not finish in {timeout:g} s")

    def _wait_once(self, op_id: str, seconds: float, context: str) -> Operation:
        try:
            meta = self.request(
                "GET", f"/operations/{op_id}/wait", params={"timeout": str(int(seconds) or 1)},
                timeout=seconds + 30, context=context,
            ).metadata
            return Operation.from_json(meta or {})
        except IncusError as exc:
            # /wait answers a failed operation with a bare error; the operation itself
            # still holds its status and metadata, so read it once more.
            try:
                meta = self.get(f"/operations/{op_id}", context=context)
            except IncusError:
                raise exc from None
            op = Operation.from_json(meta or {})
            if op.failed or not op.done:
                # Still running: /wait gave up at its own timeout ("context deadline
                # exceeded" on operations longer than the chunk); the caller waits on.
                return op
            raise

    def websocket(self, operation: str, secret: str) -> AbstractContextManager[ClientConnection]:
        """Open one of an operation's websockets (imports `websockets` only now).
        The connection is open on return; leaving the context manager closes it."""
        from websockets.exceptions import InvalidHandshake

        path = self.url(f"/operations/{operation_id(operation)}/websocket", {"secret": secret})
        try:
            return self.endpoint.websocket(path)
        except InvalidHandshake as exc:
            raise IncusError(f"the daemon refused the exec stream: {exc}") from exc
        except OSError as exc:
            raise self._unreachable(exc) from exc

    def server_info(self) -> dict[str, Any]:
        info = self.get("")
        return dict(info or {})
