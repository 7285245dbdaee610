"""multigateway's liveness probe, run as rendered against a loopback status page.

The probe (builders/scripts/gateway-sees-primary.sh) passes while the gateway's status
page has a "leader" row: a gateway stuck dialing a stale pooler address shows only
"follower" rows and is restarted. The rows below have the shape of the pinned template
(go/common/web/templates/gateway_index.html:66-73); the e2e tier runs the same probe
against the real gateway on every pod (a failing liveness probe would restart it).
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from function.builders import build, shell
from function.resolve import resolve_xr
from tests.helpers import xr

ROW = """          <tr>
            <th>demo-zone1-pooler-{i}</th>
            <td>postgres</td>
            <td>{leadership}</td>
            <td>active</td>
          </tr>
"""


def page(*leadership: str) -> bytes:
    rows = "".join(ROW.format(i=i, leadership=lead) for i, lead in enumerate(leadership))
    return f"<!doctype html>\n<table>\n<tbody>\n{rows}</tbody>\n</table>\n".encode()


def gateway_probe() -> dict[str, Any]:
    objs = build(resolve_xr(xr()))
    dep = next(o for o in objs.values() if o["metadata"]["name"] == "demo-zone1-multigateway")
    probe: dict[str, Any] = dep["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    return probe


@pytest.fixture
def status_page() -> Iterator[tuple[int, list[bytes]]]:
    body: list[bytes] = [b""]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body[0])

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], body
    finally:
        server.shutdown()
        server.server_close()


def run_probe(port: int) -> int:
    cmd = gateway_probe()["exec"]["command"]
    return subprocess.run([*cmd[:-1], str(port)], capture_output=True, timeout=10).returncode


@pytest.mark.parametrize(
    "leadership, alive",
    [
        (("follower", "follower", "leader"), True),
        (("leader",), True),
        (("follower", "follower", "follower"), False),  # stuck: no primary it can reach
        (("stale-leader", "follower"), False),
        (("—", "—"), False),  # poolers listed, none connected
        ((), False),  # no pooler discovered
    ],
)
def test_alive_only_while_a_primary_is_routed(
    status_page: tuple[int, list[bytes]], leadership: tuple[str, ...], alive: bool
) -> None:
    port, body = status_page
    body[0] = page(*leadership)
    assert (run_probe(port) == 0) is alive


def test_nothing_listening_is_not_alive() -> None:
    with socket.socket() as s:  # a port just free: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert run_probe(port) != 0


def test_restart_only_after_longer_than_a_failover() -> None:
    probe = gateway_probe()
    assert probe["periodSeconds"] * probe["failureThreshold"] == shell.GATEWAY_NO_PRIMARY_S == 90
    assert probe["exec"]["command"][-1] == "15100"  # the gateway's --http-port
