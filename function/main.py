"""The ``function`` command: serve function-multigres over gRPC.

It keeps the SDK's standard flags and environment variables (so Crossplane's
DeploymentRuntimeConfig conventions apply unchanged) and adds the metrics/probe
endpoint and the shutdown grace period.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading

import click
import crossplane.function.proto.v1.run_function_pb2_grpc as grpcv1
import grpc
from crossplane.function import cli as sdkcli
from crossplane.function import logging as fnlogging
from crossplane.function import runtime

from function import probes, telemetry
from function import server as fnserver

TLS_FILES = ("tls.crt", "tls.key", "ca.crt")


def load_credentials(tls_certs_dir: str) -> grpc.ServerCredentials:
    """Load mTLS credentials as Crossplane mounts them, failing clearly on a missing file."""
    missing = [f for f in TLS_FILES if not os.path.isfile(os.path.join(tls_certs_dir, f))]
    if missing:
        raise click.BadParameter(
            f"{tls_certs_dir} lacks {', '.join(missing)} (need {', '.join(TLS_FILES)})",
            param_hint="--tls-server-certs-dir",
        )
    creds: grpc.ServerCredentials = runtime.load_credentials(tls_certs_dir)
    return creds


CACHE_ENV = "FUNCTION_MULTIGRES_BUILD_CACHE_MIB"


def cache_budget(_ctx: click.Context | None, _param: click.Parameter | None, value: str) -> int:
    """--build-cache-mib (FUNCTION_MULTIGRES_BUILD_CACHE_MIB) in bytes, or a usage error."""
    try:
        mib = float(value)
    except ValueError:
        mib = math.nan
    if not math.isfinite(mib) or mib < 0:
        raise click.BadParameter(
            f"{CACHE_ENV}={value!r}: want a number of MiB, 0 or more (0 disables the cache)"
        )
    return int(mib * fnserver.MIB)


def run(
    runner: grpcv1.FunctionRunnerServiceServicer,
    options: fnserver.ServerOptions,
    *,
    metrics_address: str,
    debug: bool,
) -> None:
    """Serve ``runner`` with telemetry until SIGTERM/SIGINT, then drain and return."""
    try:
        provider = telemetry.configure_tracing()
    except RuntimeError as exc:  # OTEL_TRACES_EXPORTER names an exporter that is not installed
        raise click.ClickException(f"OTEL_TRACES_EXPORTER: {exc}") from exc
    metrics = telemetry.new_metrics()
    ready = threading.Event()
    http: probes.MetricsServer | None = None
    log = fnlogging.get_logger()
    if metrics_address:
        try:
            http = probes.MetricsServer(metrics_address, metrics.registry, ready.is_set)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"--metrics-address {metrics_address}: {exc}") from exc
        http.start()
        log.info("metrics and probes", address=metrics_address, port=http.port)
    server = fnserver.FunctionServer(runner, options, metrics=metrics, ready=ready, debug=debug)
    try:
        asyncio.run(fnserver.serve(server))
    except RuntimeError as exc:  # grpc reports a failed bind as RuntimeError
        raise click.ClickException(f"--address {options.address}: {exc}") from exc
    finally:
        if http is not None:
            http.stop()
        provider.shutdown()
    log.info("stopped")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@sdkcli.standard_options
@click.option(
    "--metrics-address",
    default=":8080",
    show_default=True,
    envvar="METRICS_ADDRESS",
    help="Address for /metrics, /healthz and /readyz over HTTP. Empty disables it.",
)
@click.option(
    "--grace-period",
    type=click.FloatRange(min=0),
    default=fnserver.DEFAULT_GRACE_PERIOD_SECONDS,
    show_default=True,
    envvar="GRACE_PERIOD",
    help="Seconds in-flight calls get to finish after SIGTERM before they are cancelled.",
)
@click.option(
    "--build-cache-mib",
    "build_cache_bytes",
    default="4",
    show_default=True,
    envvar=CACHE_ENV,
    callback=cache_budget,
    help="MiB of built objects kept between calls (an LRU keyed by XR and input); 0 disables.",
)
def cli(
    *,
    debug: bool,
    address: str,
    tls_certs_dir: str | None,
    insecure: bool,
    max_recv_message_size: int,
    max_send_message_size: int | None,
    metrics_address: str,
    grace_period: float,
    build_cache_bytes: int,
) -> None:
    """Serve the function-multigres composition function (mTLS unless --insecure)."""
    telemetry.configure_logging(debug)
    if max_recv_message_size <= 0 or (max_send_message_size or 1) <= 0:
        raise click.BadParameter("message sizes must be positive (MB)")
    credentials = None
    if insecure:
        if tls_certs_dir:
            fnlogging.get_logger().warning(
                "--insecure given: ignoring --tls-server-certs-dir", dir=tls_certs_dir
            )
    elif not tls_certs_dir:
        raise click.UsageError(
            "mTLS is required: pass --tls-server-certs-dir (env TLS_SERVER_CERTS_DIR) "
            "holding tls.crt, tls.key and ca.crt, or --insecure for local development."
        )
    else:
        credentials = load_credentials(tls_certs_dir)
    options = fnserver.ServerOptions(
        address=address,
        credentials=credentials,
        max_recv_message_bytes=max_recv_message_size * fnserver.MIB,
        max_send_message_bytes=(max_send_message_size or max_recv_message_size) * fnserver.MIB,
        grace_period=grace_period,
    )
    # Imported here so flag errors are reported without loading the function's models.
    from function import cache, fn

    cache.CACHE.budget = build_cache_bytes
    run(fn.FunctionRunner(), options, metrics_address=metrics_address, debug=debug)


if __name__ == "__main__":
    cli()
