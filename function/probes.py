"""The HTTP endpoint beside the gRPC server: /metrics, /healthz and /readyz.

Its own module because it is its own job: a small threaded HTTP server that kubelet
probes and Prometheus scrape, knowing nothing of gRPC or tracing; it gets the metrics
registry to render and a ``ready()`` callable (the gRPC server's serving flag).
The standard library's ThreadingHTTPServer is enough: a probe or a scrape every few
seconds, answered from memory, in a daemon thread that never touches the event loop.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, exposition


def parse_address(address: str) -> tuple[str, int]:
    """Split host:port (":8080", "0.0.0.0:8080", "[::]:8080"); an empty host means all."""
    if address.startswith("["):
        host, sep, port = address[1:].partition("]:")
    else:
        host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid address {address!r}: want host:port, e.g. :8080")
    return host, int(port)


class _Handler(BaseHTTPRequestHandler):
    """Serves /metrics, /healthz and /readyz; anything else is 404."""

    server: _ProbeServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, *, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        ctype = "text/plain; charset=utf-8"
        if path == "/metrics":
            encoder, ctype = exposition.choose_encoder(self.headers.get("Accept", ""))
            status, body = 200, encoder(self.server.registry)
        elif path == "/healthz":
            status, body = 200, b"ok\n"
        elif path == "/readyz":
            ready = self.server.ready()
            status, body = (200, b"ok\n") if ready else (503, b"not serving\n")
        else:
            status, body = 404, b"not found\n"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request access logs: probes would flood the function's logs."""


class _ProbeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        registry: CollectorRegistry,
        ready: Callable[[], bool],
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.registry = registry
        self.ready = ready
        super().__init__(address, _Handler)


class MetricsServer:
    """The metrics and probe HTTP endpoint, run in a daemon thread beside the gRPC server."""

    def __init__(self, address: str, registry: CollectorRegistry, ready: Callable[[], bool]):
        """Bind now, so a bad or busy address fails at startup rather than silently."""
        self._httpd = _ProbeServer(parse_address(address), registry, ready)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="metrics-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
