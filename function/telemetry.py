"""Telemetry set-up: the OpenTelemetry tracer provider, Prometheus metrics, log correlation.

Everything here is cheap when nobody is listening: without an exporter the tracer
provider samples nothing and exports nothing (trace ids are still minted so log lines
can be correlated). The per-call span is the gRPC interceptor's (instrument.py); the
HTTP endpoint that serves the metrics and the probes is probes.py.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog
from crossplane.function import logging as fnlogging
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    gc_collector,
    platform_collector,
    process_collector,
)

SERVICE = "function-multigres"
METRIC_PREFIX = "function_multigres"
OUTCOMES = ("ok", "fatal", "error")

# Typical calls take ~1 ms in-process; Crossplane's own histogram covers the network.
DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
COMPOSED_BUCKETS = (0, 1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 200)


def version() -> str:
    """Return the installed package version, so telemetry identifies the build."""
    try:
        return importlib.metadata.version(SERVICE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------- tracing


def exporters_from_env() -> list[SpanExporter]:
    """The span exporters that OTEL_TRACES_EXPORTER names, chosen the OpenTelemetry SDK's way.

    The SDK's own reading of the variable (``opentelemetry.sdk._configuration``, what its
    auto-configuration runs): unset or ``none`` means no exporter, so a function without a
    collector never connects, retries or logs export errors; ``otlp`` means the exporter
    that OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL picks (gRPC by
    default, the only one installed); any other name is an installed
    ``opentelemetry_traces_exporter`` entry point (``console``, ``otlp_proto_grpc``).
    A name that is not installed raises RuntimeError, which stops the function at
    start-up. Each exporter then reads its own variables (endpoint, headers, certificate,
    timeout, compression).

    Not the SDK's whole configurator (``_initialize_components``): that also installs
    meter and logger providers the function does not use, and keeps the default sampler,
    which records every span even when nothing exports them (``configure_tracing``).
    The module is private: the pinned SDK version and tests/test_runtime_telemetry.py
    hold it to this behaviour.
    """
    from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters

    exporters, _, _ = _import_exporters(_get_exporter_names("traces"), [], [])
    return [cls() for cls in exporters.values()]


def configure_tracing(*, install: bool = True) -> TracerProvider:
    """Build the tracer provider from the OTEL_* variables, install it unless told not to.

    Call shutdown() on it at exit to flush batched spans.

    Without an exporter the provider uses the ALWAYS_OFF sampler: spans are
    non-recording (attribute calls are no-ops, a measured saving: docs/observability.md)
    but carry real, or propagated, trace ids for the logs. OTEL_SDK_DISABLED=true is
    the SDK's own: its provider then makes no spans at all.
    """
    exporters = exporters_from_env()
    resource = Resource.create(
        {
            SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or SERVICE,
            SERVICE_VERSION: version(),
        }
    )
    provider = TracerProvider(resource=resource, sampler=None if exporters else ALWAYS_OFF)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if install:
        trace.set_tracer_provider(provider)
    return provider


# --------------------------------------------------------------------------- logging


def add_trace_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Structlog processor: add trace_id/span_id of the current span, to join logs to traces."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def configure_logging(debug: bool) -> None:
    """Configure the SDK's structlog setup (JSON at info) and prepend trace correlation."""
    fnlogging.configure(fnlogging.Level.DEBUG if debug else fnlogging.Level.INFO)
    processors = list(structlog.get_config()["processors"])
    structlog.configure(processors=[add_trace_context, *processors])


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metrics:
    """The function's Prometheus instruments, in their own registry so tests stay isolated."""

    registry: CollectorRegistry
    runs: Counter
    duration: Histogram
    composed: Histogram
    in_flight: Gauge


def new_metrics(*, process_collectors: bool = True) -> Metrics:
    """Create a registry with the RunFunction instruments (and process/GC/platform ones)."""
    registry = CollectorRegistry(auto_describe=True)
    if process_collectors:
        process_collector.ProcessCollector(registry=registry)
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
    runs = Counter(
        f"{METRIC_PREFIX}_run_function",
        "RunFunction calls by outcome: ok, fatal (a Fatal result), error (an exception).",
        ["outcome"],
        registry=registry,
    )
    for outcome in OUTCOMES:
        runs.labels(outcome=outcome)  # export zeros so rate() works from the first scrape
    duration = Histogram(
        f"{METRIC_PREFIX}_run_function_duration_seconds",
        "Time spent handling RunFunction, excluding network and queueing.",
        buckets=DURATION_BUCKETS,
        registry=registry,
    )
    composed = Histogram(
        f"{METRIC_PREFIX}_composed_objects",
        "Desired composed resources returned per RunFunction call.",
        buckets=COMPOSED_BUCKETS,
        registry=registry,
    )
    in_flight = Gauge(
        f"{METRIC_PREFIX}_run_function_in_flight",
        "RunFunction calls currently being handled.",
        registry=registry,
    )
    Info(f"{METRIC_PREFIX}_build", "Build information.", registry=registry).info(
        {"version": version()}
    )
    return Metrics(registry, runs, duration, composed, in_flight)
