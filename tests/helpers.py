"""Shared test helpers: examples, generated XRs, a running function process."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
VALID_EXAMPLES = sorted(
    p for p in EXAMPLES.glob("*.yaml") if yaml.safe_load(p.read_text()).get("kind") == "XMultigres"
)
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.yaml"))
CROSSPLANE = ROOT / "bin" / "crossplane"
FUNCTION = Path(sys.executable).parent / "function"

Obj = dict[str, Any]


def load(path: Path) -> Obj:
    data: Obj = yaml.safe_load(path.read_text())
    return data


def expectations(path: Path) -> dict[str, str]:
    """The `# expect:` and `# expect-field:` comments at the top of an invalid example."""
    out = {}
    for line in path.read_text().splitlines():
        for key in ("expect", "expect-field"):
            prefix = f"# {key}:"
            if line.startswith(prefix):
                out[key] = line[len(prefix) :].strip()
    return out


def xr(name: str = "demo", namespace: str = "default", **spec: Any) -> Obj:
    spec.setdefault("postgres", {"passwordSecretRef": {"name": f"{name}-pg"}})
    return {
        "apiVersion": "multigres.com/v1alpha1",
        "kind": "XMultigres",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": spec,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def function_process(*extra: str) -> Iterator[str]:
    """Run the real `function` CLI on a free loopback port; yield its address."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(FUNCTION), "--insecure", "--address", address, "--metrics-address", "", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"function exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
