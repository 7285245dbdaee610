"""Unit tests of telemetry.py (exporter selection, metrics registry) and probes.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from function import probes, telemetry
from tests.runtime_helpers import http_get, metric_value


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, "OTLPSpanExporter"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317"}, "OTLPSpanExporter"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "OTLPSpanExporter"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "ConsoleSpanExporter"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, None),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, None),
    ],
)
def test_exporter_from_env(env: dict[str, str], want: str | None) -> None:
    exporter = telemetry.exporter_from_env(env)
    assert (type(exporter).__name__ if exporter else None) == want
    if exporter is not None:
        exporter.shutdown()


def test_no_exporter_means_nothing_is_recorded_but_ids_exist() -> None:
    provider = telemetry.configure_tracing({}, install=False)
    assert provider.sampler is ALWAYS_OFF
    span = provider.get_tracer("t").start_span("x")
    assert not span.is_recording()
    assert span.get_span_context().is_valid  # logs still get trace ids
    assert provider.resource.attributes["service.name"] == "function-multigres"
    provider.shutdown()


def test_service_name_env_wins() -> None:
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "custom"}
    provider = telemetry.configure_tracing(env, install=False)
    assert provider.sampler is not ALWAYS_OFF
    assert provider.resource.attributes["service.name"] == "custom"
    provider.shutdown()
    assert isinstance(telemetry.exporter_from_env(env), ConsoleSpanExporter)


@pytest.mark.parametrize(
    ("address", "want"),
    [
        (":8080", ("", 8080)),
        ("0.0.0.0:9", ("0.0.0.0", 9)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::]:8080", ("::", 8080)),
    ],
)
def test_parse_address(address: str, want: tuple[str, int]) -> None:
    assert probes.parse_address(address) == want


@pytest.mark.parametrize("address", ["8080", "host:", "host:http", ":70000", "[::]8080"])
def test_parse_address_rejects(address: str) -> None:
    with pytest.raises(ValueError, match="invalid address"):
        probes.parse_address(address)


@pytest.fixture
def probe() -> Iterator[tuple[probes.MetricsServer, threading.Event, telemetry.Metrics]]:
    metrics = telemetry.new_metrics()
    ready = threading.Event()
    srv = probes.MetricsServer("127.0.0.1:0", metrics.registry, ready.is_set)
    srv.start()
    yield srv, ready, metrics
    srv.stop()


def test_probe_endpoints(
    probe: tuple[probes.MetricsServer, threading.Event, telemetry.Metrics],
) -> None:
    srv, ready, metrics = probe
    base = f"http://127.0.0.1:{srv.port}"
    assert http_get(base + "/healthz") == (200, "ok\n")
    assert http_get(base + "/readyz")[0] == 503
    ready.set()
    assert http_get(base + "/readyz") == (200, "ok\n")
    assert http_get(base + "/nope")[0] == 404
    metrics.runs.labels(outcome="ok").inc(2)
    status, text = http_get(base + "/metrics")
    assert status == 200
    assert metric_value(text, "function_multigres_run_function_total", 'outcome="ok"') == 2
    for outcome in ("fatal", "error"):  # zero series exist from the start
        assert f'function_multigres_run_function_total{{outcome="{outcome}"}} 0.0' in text
    for name in (
        "function_multigres_run_function_duration_seconds_bucket",
        "function_multigres_composed_objects_bucket",
        "function_multigres_run_function_in_flight",
        "function_multigres_build_info",
        "process_resident_memory_bytes",
    ):
        assert name in text
    ready.clear()
    assert http_get(base + "/readyz")[0] == 503


def test_busy_address_fails_at_bind(
    probe: tuple[probes.MetricsServer, threading.Event, telemetry.Metrics],
) -> None:
    srv, _, metrics = probe
    with pytest.raises(OSError):
        probes.MetricsServer(f"127.0.0.1:{srv.port}", metrics.registry, lambda: True)
