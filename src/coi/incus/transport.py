"""How bytes reach the Incus daemon: a unix socket, or HTTPS with a TLS client cert.

Plain `http.client` keeps start-up cheap (httpx costs 68-174 ms to import and loads a CA
bundle even for a unix socket). One connection is reused for every request of a process.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

DEFAULT_INCUS_DIR = "/var/lib/incus"
# Uploads read files in pieces this big: few system calls, bounded memory.
BLOCK_SIZE = 1 << 20
# Exec output arrives in frames of at most 32 KiB; this only bounds a misbehaving peer.
WS_MAX_MESSAGE = 16 << 20


def default_socket_path() -> str:
    """The daemon's socket, honouring INCUS_SOCKET and INCUS_DIR as the incus CLI does."""
    explicit = os.environ.get("INCUS_SOCKET")
    if explicit:
        return explicit
    return str(Path(os.environ.get("INCUS_DIR", DEFAULT_INCUS_DIR)) / "unix.socket")


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection over an AF_UNIX stream socket."""

    def __init__(self, socket_path: str, timeout: float | None = None) -> None:
        super().__init__("localhost", timeout=timeout, blocksize=BLOCK_SIZE)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


@dataclass(frozen=True)
class Endpoint:
    """Where a daemon listens: a unix socket path, or an HTTPS URL with credentials."""

    socket_path: str | None = None
    host: str | None = None
    port: int = 8443
    client_cert: str | None = None
    client_key: str | None = None
    server_cert: str | None = None

    @property
    def is_unix(self) -> bool:
        return self.socket_path is not None

    @property
    def description(self) -> str:
        if self.socket_path is not None:
            return f"unix socket {self.socket_path}"
        return f"https://{self.netloc}"

    def connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self.socket_path is not None:
            return UnixHTTPConnection(self.socket_path, timeout=timeout)
        return http.client.HTTPSConnection(
            self.host or "localhost", self.port, timeout=timeout, context=self.ssl_context(),
            blocksize=BLOCK_SIZE,
        )

    def websocket(self, path: str) -> AbstractContextManager[ClientConnection]:
        """Connect a websocket to `path` (with its query) on this daemon.

        No Origin header is sent: Incus rejects one that does not match its own address.
        Compression is off because exec streams are small and latency matters more.
        Keepalive pings are off: once stdin has seen EOF, Incus stops reading that socket,
        so pings go unanswered and the library would tear a healthy stream down.
        """
        from websockets.sync.client import connect, unix_connect

        if self.socket_path is not None:
            return unix_connect(
                self.socket_path, f"ws://localhost{path}",
                compression=None, max_size=WS_MAX_MESSAGE, open_timeout=30, close_timeout=5,
                ping_interval=None,
            )
        return connect(
            f"wss://{self.netloc}{path}", ssl=self.ssl_context(), proxy=None,
            compression=None, max_size=WS_MAX_MESSAGE, open_timeout=30, close_timeout=5,
            ping_interval=None,
        )

    @property
    def netloc(self) -> str:
        host = self.host or "localhost"
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        return f"{host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        """TLS that trusts the remote's pinned certificate (as the incus CLI stores it)."""
        context = ssl.create_default_context(cafile=self.server_cert)
        if self.server_cert:
            # Incus servers use self-signed certs pinned by file, not by host name.
            context.check_hostname = False
        if self.client_cert and self.client_key:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def local_endpoint() -> Endpoint:
    return Endpoint(socket_path=default_socket_path())
