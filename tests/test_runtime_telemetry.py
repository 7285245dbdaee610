"""Unit tests of telemetry.py (exporter selection, metrics registry) and probes.py."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from function import probes, telemetry
from tests.runtime_helpers import http_get, metric_value


@pytest.fixture
def otel_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Replace every OTEL_* variable with the given ones (the SDK reads os.environ)."""
    for key in list(os.environ):
        if key.startswith("OTEL_"):
            monkeypatch.delenv(key)

    def set_env(env: dict[str, str]) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    return set_env


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({}, []),
        # The SDK's reading: an endpoint alone does not turn export on.
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["OTLPSpanExporter"]),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            ["OTLPSpanExporter"],
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp_proto_grpc"}, ["OTLPSpanExporter"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["ConsoleSpanExporter"]),
        ({"OTEL_TRACES_EXPORTER": "console,otlp"}, ["ConsoleSpanExporter", "OTLPSpanExporter"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, []),
    ],
)
def test_exporters_from_env(
    otel_env: Callable[[dict[str, str]], None], env: dict[str, str], want: list[str]
) -> None:
    otel_env(env)
    exporters = telemetry.exporters_from_env()
    assert [type(e).__name__ for e in exporters] == want
    for exporter in exporters:
        exporter.shutdown()


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_EXPORTER": "zipkin"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
    ],
)
def test_exporter_not_installed_is_an_error(
    otel_env: Callable[[dict[str, str]], None], env: dict[str, str]
) -> None:
    otel_env(env)
    with pytest.raises(RuntimeError):
        telemetry.exporters_from_env()


def test_no_exporter_means_nothing_is_recorded_but_ids_exist(
    otel_env: Callable[[dict[str, str]], None],
) -> None:
    otel_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    provider = telemetry.configure_tracing(install=False)
    assert provider.sampler is ALWAYS_OFF
    assert not provider._active_span_processor._span_processors  # no exporter thread
    span = provider.get_tracer("t").start_span("x")
    assert not span.is_recording()
    assert span.get_span_context().is_valid  # logs still get trace ids
    assert provider.resource.attributes["service.name"] == "function-multigres"
    provider.shutdown()


def test_exporter_means_the_sdk_sampler_and_a_batch_processor(
    otel_env: Callable[[dict[str, str]], None],
) -> None:
    otel_env({"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "custom"})
    provider = telemetry.configure_tracing(install=False)
    assert provider.sampler is not ALWAYS_OFF
    (processor,) = provider._active_span_processor._span_processors
    assert isinstance(processor, BatchSpanProcessor)
    assert provider.resource.attributes["service.name"] == "custom"
    provider.shutdown()


def test_sdk_disabled_makes_no_spans(otel_env: Callable[[dict[str, str]], None]) -> None:
    otel_env({"OTEL_SDK_DISABLED": "true"})
    provider = telemetry.configure_tracing(install=False)
    assert not provider.get_tracer("t").start_span("x").get_span_context().is_valid
    provider.shutdown()


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
