"""Telemetry set-up: the OpenTelemetry tracer provider, Prometheus metrics, log correlation.

Everything here is cheap when nobody is listening: without OTLP settings the tracer
provider samples nothing and exports nothing (trace ids are still minted so log lines
can be correlated). The HTTP endpoint that serves the metrics and the probes is probes.py.
"""

from __future__ import annotations

import importlib.metadata
import logging as stdlib_logging
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog
from crossplane.function import logging as fnlogging
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
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

_log = stdlib_logging.getLogger(__name__)


def version() -> str:
    """Return the installed package version, so telemetry identifies the build."""
    try:
        return importlib.metadata.version(SERVICE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------- tracing


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def exporter_from_env(environ: Mapping[str, str] = os.environ) -> SpanExporter | None:
    """Pick a span exporter from the standard OTEL_* variables, or None to export nothing.

    OTLP is used only when asked for (an OTLP endpoint, or OTEL_TRACES_EXPORTER=otlp), so
    a function without a collector never retries connections or logs export errors.
    """
    if _truthy(environ.get("OTEL_SDK_DISABLED")):
        return None
    names = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [n for n in names if n]
    if not names:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        names = ["otlp"] if endpoint else []
    if "none" in names or not names:
        return None
    if "otlp" in names:
        protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"
        )
        if protocol != "grpc":
            _log.warning("OTLP protocol %r is not supported; exporting over gRPC", protocol)
        # Imported lazily: the gRPC exporter pulls in a sizeable module tree.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if "console" in names:
        return ConsoleSpanExporter()
    _log.warning("OTEL_TRACES_EXPORTER=%s is not supported; traces are not exported", names)
    return None


def configure_tracing(
    environ: Mapping[str, str] = os.environ, *, install: bool = True
) -> TracerProvider:
    """Build the tracer provider, install it globally unless told not to, and return it.

    Call shutdown() on it at exit to flush batched spans.

    Without an exporter the provider uses the ALWAYS_OFF sampler: spans are
    non-recording (attribute calls are no-ops) but carry real, or propagated, trace ids
    for the logs.
    """
    exporter = exporter_from_env(environ)
    resource = Resource.create(
        {
            SERVICE_NAME: environ.get("OTEL_SERVICE_NAME") or SERVICE,
            SERVICE_VERSION: version(),
        }
    )
    if exporter is None:
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    else:
        provider = TracerProvider(resource=resource)
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
