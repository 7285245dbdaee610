"""Shared helpers for the runtime tests, and a stub-function launcher for subprocess tests.

Run as a script (``python tests/runtime_helpers.py <function CLI flags>``) it starts the
real ``function.main.cli`` with ``function.fn`` replaced by :class:`StubRunner`, so the
signal, drain and mTLS paths can be exercised on a real process with calls that sleep,
without test hooks in production code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crossplane.function.proto.v1.run_function_pb2 as fnv1
import crossplane.function.proto.v1.run_function_pb2_grpc as grpcv1
import grpc
from crossplane.function import resource, response
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_BIN = Path(sys.executable).parent / "function"
V1_SERVICE = "apiextensions.fn.proto.v1.FunctionRunnerService"
#: The server span's name: opentelemetry-instrumentation-grpc names it after the full method.
V1_SPAN = f"/{V1_SERVICE}/RunFunction"


# --------------------------------------------------------------------------- requests


def make_request(
    name: str = "demo",
    namespace: str = "default",
    generation: int = 3,
    **behaviour: Any,
) -> fnv1.RunFunctionRequest:
    """A valid XMultigres request; ``behaviour`` goes into input to steer StubRunner."""
    xr = {
        "apiVersion": "multigres.com/v1alpha1",
        "kind": "XMultigres",
        "metadata": {"name": name, "namespace": namespace, "generation": generation},
        "spec": {
            "cells": [{"name": "zone-a"}, {"name": "zone-b"}],
            "postgres": {"passwordSecretRef": {"name": "pg", "key": "password"}},
        },
    }
    req = fnv1.RunFunctionRequest(
        meta=fnv1.RequestMeta(tag="t1"),
        observed=fnv1.State(composite=fnv1.Resource(resource=resource.dict_to_struct(xr))),
    )
    if behaviour:
        req.input.CopyFrom(resource.dict_to_struct(behaviour))
    return req


class StubRunner(grpcv1.FunctionRunnerServiceServicer):
    """Behaves like fn.FunctionRunner for instrumentation: same span names and attributes.

    Input keys: ``resources`` (count), ``sleep`` (seconds), ``fatal`` and ``raise``.
    """

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0

    async def RunFunction(
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext
    ) -> fnv1.RunFunctionResponse:
        self.started += 1
        tracer = trace.get_tracer("function-multigres")
        span = trace.get_current_span()
        inp = resource.struct_to_dict(req.input)
        with tracer.start_as_current_span("parse"):
            xr = resource.struct_to_dict(req.observed.composite.resource)
            meta = xr.get("metadata", {})
            cells = xr.get("spec", {}).get("cells", [])
            span.set_attribute("multigres.xr.name", meta.get("name", ""))
            span.set_attribute("multigres.xr.namespace", meta.get("namespace", ""))
            span.set_attribute("multigres.xr.generation", int(meta.get("generation", 0)))
            span.set_attribute("multigres.cells", len(cells))
        if inp.get("sleep"):
            await asyncio.sleep(float(inp["sleep"]))
        if inp.get("raise"):
            raise RuntimeError("stub exploded")
        rsp = response.to(req)
        with tracer.start_as_current_span("build"):
            for i in range(int(inp.get("resources", 2))):
                resource.update(
                    rsp.desired.resources[f"cm-{i}"],
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}},
                )
        with tracer.start_as_current_span("status"):
            if inp.get("fatal"):
                response.fatal(rsp, "stub says no")
                span.set_attribute("multigres.result_severity", "SEVERITY_FATAL")
            else:
                span.set_attribute("multigres.result_severity", "SEVERITY_NORMAL")
        span.set_attribute("multigres.composed_objects", len(rsp.desired.resources))
        self.finished += 1
        return rsp


# --------------------------------------------------------------------------- network


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """GET url and return (status, body) without raising on 4xx/5xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric_value(text: str, name: str, labels: str = "") -> float:
    """The value of one sample from Prometheus text output (0 if absent)."""
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


def health_status(channel: grpc.Channel, service: str = "") -> int:
    """Query grpc.health.v1.Health/Check."""
    stub = health_pb2_grpc.HealthStub(channel)
    rsp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return int(rsp.status)


def run_function(
    channel: grpc.Channel, req: fnv1.RunFunctionRequest, timeout: float = 10
) -> fnv1.RunFunctionResponse:
    """One v1 RunFunction call over a sync channel."""
    rsp: fnv1.RunFunctionResponse = grpcv1.FunctionRunnerServiceStub(channel).RunFunction(
        req, timeout=timeout
    )
    return rsp


# --------------------------------------------------------------------------- processes


@dataclass
class FunctionProcess:
    """A running function process with its ports and captured output."""

    proc: subprocess.Popen[bytes]
    grpc_port: int
    metrics_port: int
    log_path: Path
    closed: bool = field(default=False)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.metrics_port}{path}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_logs(self) -> list[dict[str, Any]]:
        """Structured log lines (non-JSON lines, e.g. from grpc, are skipped)."""
        out = []
        for line in self.output().splitlines():
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict):
                    out.append(obj)
        return out

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 10) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def start_function(
    tmp_path: Path,
    *extra: str,
    stub: bool = False,
    insecure: bool = True,
    env: dict[str, str] | None = None,
    wait: bool = True,
    credentials: grpc.ChannelCredentials | None = None,
) -> FunctionProcess:
    """Start the ``function`` CLI (or the stub launcher) and wait until it is SERVING."""
    grpc_port, metrics_port = free_port(), free_port()
    cmd = [str(FUNCTION_BIN)] if not stub else [sys.executable, str(Path(__file__))]
    cmd += [
        "--address",
        f"127.0.0.1:{grpc_port}",
        "--metrics-address",
        f"127.0.0.1:{metrics_port}",
    ]
    if insecure:
        cmd.append("--insecure")
    cmd += list(extra)
    log_path = tmp_path / f"function-{grpc_port}.log"
    penv = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    penv.update(env or {})
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=penv, cwd=ROOT)
    fp = FunctionProcess(proc, grpc_port, metrics_port, log_path)
    if wait:
        try:
            wait_serving(fp, credentials)
        except BaseException:
            fp.kill()
            raise
    return fp


def channel_for(fp: FunctionProcess, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    """A channel to the process; with credentials it dials TLS with name 'localhost'."""
    if credentials is None:
        return grpc.insecure_channel(fp.target)
    return grpc.secure_channel(
        fp.target, credentials, options=[("grpc.ssl_target_name_override", "localhost")]
    )


def wait_serving(
    fp: FunctionProcess, credentials: grpc.ChannelCredentials | None = None, timeout: float = 15
) -> None:
    """Poll gRPC health until SERVING, failing fast with the log if the process died."""
    deadline = time.monotonic() + timeout
    with channel_for(fp, credentials) as ch:
        while time.monotonic() < deadline:
            if fp.proc.poll() is not None:
                raise AssertionError(f"function exited {fp.proc.returncode}:\n{fp.output()}")
            with contextlib.suppress(grpc.RpcError):
                if health_status(ch) == health_pb2.HealthCheckResponse.SERVING:
                    return
            time.sleep(0.05)
    raise AssertionError(f"function not SERVING after {timeout}s:\n{fp.output()}")


@contextlib.contextmanager
def running(tmp_path: Path, *extra: str, **kw: Any) -> Iterator[FunctionProcess]:
    """start_function as a context manager that never leaks the process."""
    fp = start_function(tmp_path, *extra, **kw)
    try:
        yield fp
    finally:
        fp.kill()


# --------------------------------------------------------------------------- certificates


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(cwd: Path, ca: str, name: str, cn: str, ext: str) -> None:
    """Create name.key and name.crt signed by ca.{crt,key} with extensions ext."""
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=cwd)
    _openssl(
        "req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}", "-out", f"{name}.csr", cwd=cwd
    )
    (cwd / f"{name}.ext").write_text(ext)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
        "-out", f"{name}.crt", cwd=cwd,
    )  # fmt: skip


def make_ca(cwd: Path, name: str) -> None:
    """A self-signed CA: name.crt, name.key."""
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
        "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=cwd,
    )  # fmt: skip


@dataclass(frozen=True)
class Certs:
    """PEM bytes for a test PKI and the server directory laid out as Crossplane mounts it."""

    server_dir: Path
    ca: bytes
    client_crt: bytes
    client_key: bytes
    rogue_crt: bytes
    rogue_key: bytes


def make_certs(tmp_path: Path) -> Certs:
    """A CA, a server cert (localhost/127.0.0.1), a client cert and one from another CA."""
    work = tmp_path / "pki"
    work.mkdir()
    make_ca(work, "ca")
    make_ca(work, "rogue-ca")
    server_ext = (
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n"
    )
    client_ext = "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n"
    _issue(work, "ca", "server", "function-multigres", server_ext)
    _issue(work, "ca", "client", "crossplane", client_ext)
    _issue(work, "rogue-ca", "rogue", "crossplane", client_ext)
    server_dir = tmp_path / "tls-server"
    server_dir.mkdir()
    (server_dir / "tls.crt").write_bytes((work / "server.crt").read_bytes())
    (server_dir / "tls.key").write_bytes((work / "server.key").read_bytes())
    (server_dir / "ca.crt").write_bytes((work / "ca.crt").read_bytes())
    return Certs(
        server_dir=server_dir,
        ca=(work / "ca.crt").read_bytes(),
        client_crt=(work / "client.crt").read_bytes(),
        client_key=(work / "client.key").read_bytes(),
        rogue_crt=(work / "rogue.crt").read_bytes(),
        rogue_key=(work / "rogue.key").read_bytes(),
    )


# --------------------------------------------------------------------------- launcher


def _main() -> None:
    """Run the real CLI with function.fn replaced by the stub runner."""
    sys.path.insert(0, str(ROOT))
    fake = types.ModuleType("function.fn")
    fake.FunctionRunner = StubRunner  # type: ignore[attr-defined]
    sys.modules["function.fn"] = fake
    import function
    from function.main import cli

    function.fn = fake  # type: ignore[attr-defined]
    cli()


if __name__ == "__main__":
    _main()
