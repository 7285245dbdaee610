"""An XMultigres driven the way a user drives it: `kubectl apply` of the XR, and real
Crossplane (installed once per session from our packages) composes it.

`XRDemo` is `Demo` (tests/e2e/multigres.py) with `apply` replaced: it applies the XR and
its Secret, then waits until Crossplane has applied what the function renders for that
XR (`crossplane render`, the same objects `make render` prints), so a scenario's next
step starts from the edit, not from the objects before it. It gives the example its own
XR name: Crossplane keeps its watch circuit breaker per XR name, and one module's storm
of events (failovers, rollouts, a foreground deletion) once left it open for the next
module's XR of the same name, whose creation was then not reconciled for minutes
(docs/operations.md#circuit-breaker). `clear` removes an XR and
everything it left (objects, claims, the CA Secret a Job made) so the next one starts
from nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.crossplane import CONFIGURATION, FUNCTION, XRD, Crossplane
from tests.e2e.kube import Kube
from tests.e2e.multigres import SECRET, Demo
from tests.e2e.render import ROOT, composed

PACKAGES = [
    ROOT / "_out" / "function-multigres.xpkg",
    ROOT / "_out" / "configuration-multigres.xpkg",
]
WORKLOAD_KINDS = ("StatefulSet", "Deployment")


def install(kube: Kube, results: dict[str, Any]) -> Crossplane:
    """Crossplane core from its chart, then our packages by the README's install block."""
    missing = [p for p in PACKAGES if not p.exists()]
    if missing:
        raise AssertionError(f"{', '.join(str(p) for p in missing)} missing: run `make xpkg`")
    cp = Crossplane(kube)
    results["crossplane_ready_s"] = round(cp.install_core(), 1)
    t0 = time.monotonic()
    if kube.maybe("configuration.pkg.crossplane.io", CONFIGURATION) and kube.maybe(
        "function.pkg.crossplane.io", FUNCTION
    ):
        # Only on a reused cluster (FMG_E2E_REUSE=1): the README's block creates the
        # packages, and `crossplane xpkg install` refuses one that exists.
        print(f">> e2e: {FUNCTION} and {CONFIGURATION} already installed: reused as they are")
    else:
        cp.run_install_block()
    cp.wait(
        f"the Function {FUNCTION} running as a Deployment, Available", cp.function_available, 300
    )
    results["install_to_healthy_function_s"] = round(time.monotonic() - t0, 1)
    cp.wait(
        f"XRD {XRD} Established",
        lambda: all(
            c.get("status") == "True"
            for c in (kube.maybe("xrd", XRD) or {}).get("status", {}).get("conditions", [{}])
        ),
        120,
    )
    return cp


def clear(kube: Kube, demo: Demo) -> None:
    """The XR, its objects, its claims and its CA Secret gone (whoever made them).

    Foreground: the XR goes only after its composed objects, so the Usages are gone
    before anything is deleted by hand (in background the API server refused to delete
    the etcd StatefulSet, "in-use" by a Usage, 2026-12-02)."""
    kube.kubectl("delete", "xmultigres", demo.name, "-n", demo.ns, "--ignore-not-found",
                 "--cascade=foreground", "--wait=true", "--timeout=300s", timeout=320)  # fmt: skip
    demo.delete_all(keep_pvcs=False)
    kube.kubectl(
        "delete", "secret", "-n", demo.ns, f"{demo.name}-pgbackrest-ca", "--ignore-not-found"
    )


class XRDemo(Demo):
    def __init__(self, kube: Kube, example: Path, name: str, workdir: Path) -> None:
        super().__init__(kube, example, name=name)
        self.workdir = workdir

    def named(self, example: Path) -> Path:
        """`example` as an XR named `self.name` (a copy in `workdir` if it is not)."""
        xr = yaml.safe_load(example.read_text())
        if xr["metadata"]["name"] == self.name:
            return example
        xr["metadata"]["name"] = self.name
        out = self.workdir / f"{self.name}-{example.name}"
        out.write_text(yaml.safe_dump(xr))
        return out

    def objects(self, example: Path | None = None) -> list[dict[str, Any]]:
        return composed(self.named(example or self.example))

    def apply(self, example: Path | None = None) -> list[dict[str, Any]]:
        """`kubectl apply` the XR (and its Secret); back once Crossplane applied it."""
        example = self.named(example or self.example)
        objs = self.objects(example)
        self.kube.kubectl("apply", "-f", str(SECRET), "-f", str(example))
        self.kube.wait_for(
            f"Crossplane to apply what the function renders for {example.name}",
            lambda: not self.unapplied(objs),
            180,
            self.ns,
            self.selector(),
        )
        return objs

    def unapplied(self, objs: list[dict[str, Any]]) -> list[str]:
        """The rendered workloads whose live object lacks them yet: missing, other
        replicas, or pod-template annotations the render has and the live one does not."""
        out = []
        for o in objs:
            if o["kind"] not in WORKLOAD_KINDS:
                continue
            name = o["metadata"]["name"]
            live = self.kube.maybe(o["kind"].lower(), name, self.ns)
            if live is None:
                out.append(f"{o['kind']} {name}: missing")
                continue
            want = o["spec"].get("replicas")
            if want is not None and live["spec"].get("replicas") != want:
                out.append(f"{o['kind']} {name}: replicas {live['spec'].get('replicas')}")
            tmpl = o["spec"]["template"].get("metadata", {}).get("annotations", {})
            have = live["spec"]["template"].get("metadata", {}).get("annotations", {})
            if any(have.get(k) != v for k, v in tmpl.items()):
                out.append(f"{o['kind']} {name}: pod-template annotations")
        return out
