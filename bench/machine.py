"""The machine a benchmark ran on, recorded in its results: ratios travel, absolute
times only with the machine they came from."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import servers
from bench.common import ROOT


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    from importlib.metadata import version

    import grpc

    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "sdk": version("crossplane-function-sdk-python"),
        "protobuf": version("protobuf"),
    }
    info["go"] = _output(["go", "version"])
    info["git"] = _output(["git", "describe", "--always", "--dirty", "--abbrev=12"])
    dirty = _output(["git", "status", "--porcelain", "--", "function"])
    if info["git"] is not None:
        info["function_dirty"] = bool(dirty)
    stamps = sorted((ROOT / "bin").glob(".function-go-templating-v*"))
    info["go_templating"] = (
        f"function-go-templating {stamps[-1].name.rsplit('-', 1)[1]}"
        f" ({stamps[-1].read_text().strip()})"
        if stamps and servers.PEER_BIN.exists()
        else None
    )
    info["peer"] = None
    if servers.PYTHONIC_BIN.exists():
        py = subprocess.run(
            [str(servers.PYTHONIC_DIR / "bin" / "python"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        info["peer"] = f"crossplane-function-pythonic {servers.PYTHONIC_VERSION} ({py})"
    return info


def _output(cmd: list[str]) -> str | None:
    """A command's stdout, stripped, run in the repository; None when it cannot run."""
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=10, cwd=ROOT
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
