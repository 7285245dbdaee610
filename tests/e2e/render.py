"""What `make render` prints for an example, as objects to apply: the real function over
gRPC, rendered by the real `crossplane render` (bin/crossplane), nothing patched.

test_postgres_config.py applies the composed resources itself with server-side apply, as
Crossplane would, to test the data plane apart from Crossplane (test_cluster.py and
test_crossplane.py go through real Crossplane and use the render to know what to wait
for); what only Crossplane can act on is left out and said so: the XR itself, Usages (no
Crossplane controller enforces them there) and the ownerReferences to the XR.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from hack.render import ROOT, free_port, functions_file, render_cmd, running_function

CROSSPLANE = ROOT / "bin" / "crossplane"
SKIP_KINDS = {"Usage", "XMultigres"}


def render(example: Path, observed: Path | None = None) -> list[dict[str, Any]]:
    """Every object `crossplane render` prints for `example` (XR first, results too)."""
    address = f"127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory() as tmp, running_function(address):
        fns = functions_file(address, Path(tmp))
        cmd = render_cmd(
            str(CROSSPLANE),
            str(example),
            fns,
            str(observed) if observed else None,
            str(ROOT / "examples" / "required"),
            True,
        )
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise AssertionError(f"crossplane render {example} failed ({r.returncode}):\n{r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def composed(example: Path) -> list[dict[str, Any]]:
    """The composed resources of `example`, ready for server-side apply."""
    out = []
    for obj in render(example):
        if obj.get("kind") in SKIP_KINDS or obj.get("apiVersion", "").startswith(
            "render.crossplane.io"
        ):
            continue
        obj["metadata"].pop("ownerReferences", None)
        obj["metadata"].pop("generateName", None)
        out.append(obj)
    return out
