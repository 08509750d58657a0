"""The REST core against a tiny fake daemon on a unix socket: URLs, errors, operations."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from coi.errors import (
    CoiTimeout,
    IncusConflict,
    IncusError,
    IncusNotFound,
    IncusPermissionDenied,
    IncusUnreachable,
)
from coi.incus.client import Client, Operation, error_for, quote
from coi.incus.transport import Endpoint

Route = Callable[[BaseHTTPRequestHandler, bytes], tuple[int, Any]]


def sync(metadata: Any) -> dict[str, Any]:
    return {"type": "sync", "status": "Success", "status_code": 200, "metadata": metadata}


def error(code: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error_code": code, "error": message, "metadata": None}


class FakeDaemon:
    """Answers requests from `routes` ("METHOD /path?query" -> handler) and logs them."""

    def __init__(self, socket_path: Path) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[tuple[str, str, bytes, dict[str, str]]] = []
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                daemon.log.append((self.command, self.path, body, dict(self.headers)))
                route = daemon.routes.get(f"{self.command} {self.path}")
                status, doc = route(self, body) if route else (404, error(404, "Not Found"))
                data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            # http.server dispatches on these names.
            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = socketserver.ThreadingUnixStreamServer(str(socket_path), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeDaemon]:
    fake = FakeDaemon(tmp_path / "unix.socket")
    yield fake
    fake.close()


@pytest.fixture
def client(daemon: FakeDaemon, tmp_path: Path) -> Iterator[Client]:
    c = Client(Endpoint(socket_path=str(tmp_path / "unix.socket")), timeout=5)
    yield c
    c.close()


def answer(status: int, doc: Any) -> Route:
    return lambda handler, body: (status, doc)


def test_url_adds_project_only_when_not_default() -> None:
    assert Client(project="default").url("/instances") == "/1.0/instances"
    assert Client(project="work").url("/instances", {"recursion": "2"}) == (
        "/1.0/instances?recursion=2&project=work")
    assert Client(project="work").url("/1.0/images", {"project": "other"}) == (
        "/1.0/images?project=other")


def test_quote_escapes_a_whole_segment() -> None:
    assert quote("snap 1/evil") == "snap%201%2Fevil"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, IncusNotFound), (409, IncusConflict), (403, IncusPermissionDenied), (500, IncusError)],
)
def test_error_for_maps_status_to_type(status: int, kind: type[IncusError]) -> None:
    err = error_for(status, "Instance not found", "start c1")
    assert type(err) is kind
    assert err.status_code == status
    assert "start c1: Instance not found" in str(err)


def test_taken_name_reported_as_database_error_is_a_conflict() -> None:
    message = 'Failed to create "instances" entry: UNIQUE constraint failed: instances.name'
    err = error_for(500, message, "create c1")
    assert isinstance(err, IncusConflict)
    assert str(err) == "create c1: the name is taken"


def test_daemon_error_carries_its_message(daemon: FakeDaemon, client: Client) -> None:
    daemon.routes["GET /1.0/instances/c1"] = answer(404, error(404, "Instance not found"))
    with pytest.raises(IncusNotFound, match="Instance not found"):
        client.get("/instances/c1", context="instance c1")


def test_an_error_document_with_status_200_is_still_an_error(
    daemon: FakeDaemon, client: Client
) -> None:
    daemon.routes["POST /1.0/images"] = answer(200, error(409, "Alias exists"))
    with pytest.raises(IncusConflict):
        client.request("POST", "/images", {})


def test_json_body_and_headers_are_sent(daemon: FakeDaemon, client: Client) -> None:
    daemon.routes["PUT /1.0/instances/c1"] = answer(200, sync({}))
    client.request("PUT", "/instances/c1", {"a": 1}, headers={"If-Match": "etag"})
    _, _, body, headers = daemon.log[-1]
    assert json.loads(body) == {"a": 1}
    assert headers["Content-Type"] == "application/json"
    assert headers["If-Match"] == "etag"


def test_streamed_body_is_sent_whole(daemon: FakeDaemon, client: Client) -> None:
    daemon.routes["POST /1.0/upload"] = answer(200, sync({}))
    chunks = iter([b"abc", b"def"])
    resp = client.raw("POST", "/upload", chunks, headers={"Content-Length": "6"})
    client.decode(resp)
    assert daemon.log[-1][2] == b"abcdef"


def op(status: str, code: int, err: str = "", metadata: Any = None) -> dict[str, Any]:
    return {"id": "op1", "status": status, "status_code": code, "err": err,
            "metadata": metadata or {}}


def test_sync_waits_for_the_operation(daemon: FakeDaemon, client: Client) -> None:
    daemon.routes["POST /1.0/images"] = answer(
        202, {"type": "async", "operation": "/1.0/operations/op1", "metadata": op("Running", 103)})
    daemon.routes["GET /1.0/operations/op1/wait?timeout=30"] = answer(
        200, sync(op("Success", 200, metadata={"fingerprint": "abc"})))
    assert client.sync("POST", "/images", {}) == {"fingerprint": "abc"}


def test_failed_operation_raises_with_its_error(daemon: FakeDaemon, client: Client) -> None:
    daemon.routes["GET /1.0/operations/op1/wait?timeout=30"] = answer(200, error(400, "boom"))
    daemon.routes["GET /1.0/operations/op1"] = answer(
        200, sync(op("Failure", 400, "Command not found", {"return": 127})))
    with pytest.raises(IncusError, match="Command not found"):
        client.wait("op1")
    failed = client.wait("op1", check=False)
    assert failed.failed and failed.metadata == {"return": 127}


def test_wait_error_is_kept_when_the_operation_is_gone(daemon: FakeDaemon, client: Client) -> None:
    daemon.routes["GET /1.0/operations/op1/wait?timeout=30"] = answer(404, error(404, "gone"))
    with pytest.raises(IncusNotFound, match="gone"):
        client.wait("/1.0/operations/op1")


def test_wait_goes_on_when_wait_itself_times_out(daemon: FakeDaemon, client: Client) -> None:
    # A long operation (e.g. a slow publish) outlives one /wait call, which then answers
    # "context deadline exceeded" while the operation is still running.
    answers = iter([(500, error(500, "context deadline exceeded")),
                    (200, sync(op("Success", 200, metadata={"fingerprint": "abc"})))])
    daemon.routes["GET /1.0/operations/op1/wait?timeout=30"] = lambda h, b: next(answers)
    daemon.routes["GET /1.0/operations/op1"] = answer(200, sync(op("Running", 103)))
    assert client.wait("/1.0/operations/op1").metadata == {"fingerprint": "abc"}


def test_wait_times_out(daemon: FakeDaemon, client: Client) -> None:
    daemon.routes["GET /1.0/operations/op1/wait?timeout=1"] = answer(200, sync(op("Running", 103)))
    with pytest.raises(CoiTimeout):
        client.wait("op1", timeout=0.01)


def test_operation_states() -> None:
    assert Operation.from_json(op("Success", 200)).done
    assert not Operation.from_json(op("Running", 103)).done
    assert Operation.from_json(op("Failure", 400)).failed


def test_kept_alive_connection_closed_by_daemon_is_retried(
    daemon: FakeDaemon, client: Client
) -> None:
    def answer_then_hang_up(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any]:
        # Close after answering, without saying so: an idle timeout as the client sees it.
        handler.close_connection = True
        return 200, sync({"api_version": "1.0"})

    daemon.routes["GET /1.0"] = answer_then_hang_up
    assert client.server_info() == {"api_version": "1.0"}
    assert client.server_info() == {"api_version": "1.0"}
    assert len(daemon.log) == 2


def test_missing_socket_is_unreachable(tmp_path: Path) -> None:
    with (
        Client(Endpoint(socket_path=str(tmp_path / "none.socket"))) as c,
        pytest.raises(IncusUnreachable, match="coi setup"),
    ):
        c.server_info()


def test_socket_without_permission_is_permission_denied(
    tmp_path: Path, daemon: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("socket.socket.connect", refuse)
    with (
        Client(Endpoint(socket_path=str(tmp_path / "unix.socket"))) as c,
        pytest.raises(IncusPermissionDenied, match="incus-admin"),
    ):
        c.server_info()
