"""The runtime on real processes: the `function` CLI, probes, metrics, SIGTERM draining.

The drain tests use tests/runtime_helpers.py as the launcher: it runs the real CLI with
function.fn swapped for a stub whose calls can sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.runtime_helpers import (
    FUNCTION_BIN,
    V1_SERVICE,
    V1_SPAN,
    FunctionProcess,
    free_port,
    health_status,
    http_get,
    make_request,
    metric_value,
    run_function,
    running,
)

COUNTER = "function_multigres_run_function_total"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def runs(fp: FunctionProcess, outcome: str | None = None) -> float:
    text = http_get(fp.url("/metrics"))[1]
    outcomes = [outcome] if outcome else ["ok", "fatal", "error"]
    return sum(metric_value(text, COUNTER, f'outcome="{o}"') for o in outcomes)


def wait_for(pred: Any, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_acceptance_real_cli(tmp_path: Path) -> None:
    """Issue 6 acceptance: health SERVING, /healthz 200, counter >= 3 after 3 calls."""
    with running(tmp_path) as fp:
        with grpc.insecure_channel(fp.target) as ch:
            assert health_status(ch) == SERVING
            assert health_status(ch, V1_SERVICE) == SERVING
            assert http_get(fp.url("/healthz"))[0] == 200
            assert http_get(fp.url("/readyz"))[0] == 200
            for i in range(3):
                rsp = run_function(ch, make_request(name=f"db{i}"))
                assert len(rsp.desired.resources) > 0
        assert runs(fp) >= 3
        assert runs(fp, "ok") >= 3
        text = http_get(fp.url("/metrics"))[1]
        assert metric_value(text, "function_multigres_composed_objects_count") >= 3
        assert metric_value(text, "function_multigres_run_function_duration_seconds_count") >= 3

        fp.terminate()
        assert fp.wait(10) == 0, fp.output()
    calls = [line for line in fp.json_logs() if line.get("msg") == "RunFunction"]
    assert [c["xr_name"] for c in calls] == ["db0", "db1", "db2"]
    for c in calls:
        assert c["level"] == "info" and c["outcome"] == "ok"
        assert len(c["trace_id"]) == 32 and len(c["span_id"]) == 16
        assert c["duration_ms"] > 0 and c["xr_namespace"] == "default"
    assert any(line.get("msg") == "stopped" for line in fp.json_logs())


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run(
        [str(FUNCTION_BIN), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**clean, **(env or {})},
    )


def test_cli_requires_tls_or_insecure(tmp_path: Path) -> None:
    r = _cli("--metrics-address", "")
    assert r.returncode == 2
    assert "mTLS is required" in r.stderr and "--insecure" in r.stderr
    r = _cli("--tls-server-certs-dir", str(tmp_path), "--metrics-address", "")
    assert r.returncode == 2
    assert "lacks tls.crt, tls.key, ca.crt" in r.stderr


def test_cli_refuses_an_exporter_that_is_not_installed() -> None:
    """The SDK's exporter lookup failing is a start-up error that names the variable."""
    env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    r = _cli(
        "--insecure", "--address", f"127.0.0.1:{free_port()}", "--metrics-address", "", env=env
    )
    assert r.returncode == 1
    assert "OTEL_TRACES_EXPORTER" in r.stderr and "otlp_proto_http" in r.stderr


def test_cli_reports_busy_metrics_port(tmp_path: Path) -> None:
    with running(tmp_path, stub=True) as fp:
        r = _cli(
            "--insecure",
            "--address",
            f"127.0.0.1:{free_port()}",
            "--metrics-address",
            f"127.0.0.1:{fp.metrics_port}",
        )
        assert r.returncode == 1
        assert "--metrics-address" in r.stderr and "in use" in r.stderr


def _call_in_thread(fp: FunctionProcess, **behaviour: Any) -> tuple[threading.Thread, dict]:
    out: dict[str, Any] = {}

    def call() -> None:
        with grpc.insecure_channel(fp.target) as ch:
            try:
                out["rsp"] = run_function(ch, make_request(**behaviour), timeout=60)
            except grpc.RpcError as e:
                out["error"] = e.code()

    t = threading.Thread(target=call, daemon=True)
    t.start()
    return t, out


def _wait_in_flight(fp: FunctionProcess, n: int) -> None:
    def in_flight() -> bool:
        text = http_get(fp.url("/metrics"))[1]
        return metric_value(text, "function_multigres_run_function_in_flight") == n

    wait_for(in_flight, what=f"{n} call(s) in flight")


def test_sigterm_finishes_in_flight_calls(tmp_path: Path) -> None:
    with running(tmp_path, "--grace-period", "20", stub=True) as fp:
        statuses: list[int] = []
        watch_ch = grpc.insecure_channel(fp.target)

        def watch() -> None:
            stub = health_pb2_grpc.HealthStub(watch_ch)
            try:
                for rsp in stub.Watch(health_pb2.HealthCheckRequest(service="")):
                    statuses.append(rsp.status)
            except grpc.RpcError:
                pass  # the server cancels watches once calls have drained

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        wait_for(lambda: statuses == [SERVING], what="health watch")
        slow, out = _call_in_thread(fp, sleep=1.5, resources=4)
        _wait_in_flight(fp, 1)

        sent = time.monotonic()
        fp.terminate(signal.SIGTERM)
        wait_for(lambda: http_get(fp.url("/readyz"))[0] == 503, what="/readyz 503")
        assert http_get(fp.url("/healthz"))[0] == 200  # alive while draining
        with grpc.insecure_channel(fp.target) as ch, pytest.raises(grpc.RpcError) as err:
            run_function(ch, make_request(), timeout=2)
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE  # no new calls

        slow.join(10)
        assert "rsp" in out, out  # the in-flight call completed normally
        assert len(out["rsp"].desired.resources) == 4
        assert fp.wait(10) == 0, fp.output()
        assert time.monotonic() - sent < 6  # exits once drained, not after the grace period
        watcher.join(5)
        watch_ch.close()
        assert statuses == [SERVING, NOT_SERVING]
    logs = fp.json_logs()
    done = [line for line in logs if line.get("msg") == "RunFunction"]
    assert [line["outcome"] for line in done] == ["ok"]
    assert any(line.get("msg") == "shutting down" for line in logs)


def test_grace_period_bounds_shutdown(tmp_path: Path) -> None:
    with running(tmp_path, "--grace-period", "0.5", stub=True) as fp:
        slow, out = _call_in_thread(fp, sleep=30)
        _wait_in_flight(fp, 1)
        sent = time.monotonic()
        fp.terminate(signal.SIGTERM)
        assert fp.wait(10) == 0, fp.output()
        assert time.monotonic() - sent < 5
        slow.join(5)
        assert out.get("error") in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    logs = fp.json_logs()
    assert any(
        line.get("msg") == "grace period over; remaining calls were cancelled" for line in logs
    )
    calls = [line for line in logs if line.get("msg") == "RunFunction"]
    assert [(c["outcome"], c["level"]) for c in calls] == [("error", "error")]
    assert calls[0]["error"].startswith("CancelledError")


def test_second_signal_forces_exit(tmp_path: Path) -> None:
    with running(tmp_path, "--grace-period", "60", stub=True) as fp:
        slow, _ = _call_in_thread(fp, sleep=60)
        _wait_in_flight(fp, 1)
        sent = time.monotonic()
        fp.terminate(signal.SIGTERM)
        wait_for(lambda: http_get(fp.url("/readyz"))[0] == 503, what="draining")
        fp.terminate(signal.SIGINT)
        assert fp.wait(10) == 0, fp.output()
        assert time.monotonic() - sent < 5
        slow.join(5)


def test_otlp_export_when_endpoint_set(tmp_path: Path) -> None:
    """With OTEL_TRACES_EXPORTER=otlp and an endpoint, spans reach an OTLP/gRPC collector."""
    from concurrent import futures

    from opentelemetry.proto.collector.trace.v1 import (
        trace_service_pb2,
        trace_service_pb2_grpc,
    )

    spans: list[tuple[str, dict[str, Any]]] = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(
            self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
        ) -> trace_service_pb2.ExportTraceServiceResponse:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        attrs = {a.key: a.value for a in s.attributes}
                        spans.append((s.name, attrs))
            return trace_service_pb2.ExportTraceServiceResponse()

    collector = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), collector)
    port = collector.add_insecure_port("127.0.0.1:0")
    collector.start()
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    try:
        with running(tmp_path, env=env) as fp:
            with grpc.insecure_channel(fp.target) as ch:
                run_function(ch, make_request(name="traced"))
            wait_for(
                lambda: any(n.endswith("/RunFunction") for n, _ in spans), what="exported span"
            )
            fp.terminate()
            assert fp.wait(10) == 0
    finally:
        collector.stop(0)
    names = {n for n, _ in spans}
    assert {V1_SPAN, "parse", "build", "status"} <= names
    root = next(a for n, a in spans if n == V1_SPAN)
    assert root["multigres.xr.name"].string_value == "traced"
    assert root["multigres.composed_objects"].int_value > 0
