"""Shared test helpers: examples, generated XRs, a running function process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from hack.render import free_port, running_function

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
VALID_EXAMPLES = sorted(
    p for p in EXAMPLES.glob("*.yaml") if yaml.safe_load(p.read_text()).get("kind") == "XMultigres"
)
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.yaml"))
CROSSPLANE = ROOT / "bin" / "crossplane"

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


def ints(v: Any) -> Any:
    """Struct doubles back to ints where integral, as the API server's JSON decoder reads them."""
    if isinstance(v, dict):
        return {k: ints(x) for k, x in v.items()}
    if isinstance(v, list):
        return [ints(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


@contextlib.contextmanager
def function_process(*extra: str) -> Iterator[str]:
    """Run the real `function` CLI on a free loopback port; yield its address."""
    address = f"127.0.0.1:{free_port()}"
    with running_function(address, *extra):
        yield address
