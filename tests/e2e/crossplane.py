"""Crossplane in the e2e cluster, installed the way the README says, and what it reports.

Crossplane core is the image hack/crossplane/install.sh packs under the chart's own name
(the node imports it with the others); the chart is the one `helm template` rendered
there with hack/crossplane/values.yaml, applied as is; the package runtime is the
default (Deployment). Our packages go in through the README's install block, run line
for line in the node's network namespace with only `REGISTRY=` pointed at the registry
beside the node (hack/e2e/cluster/layout.REGISTRY). Every wait is bounded and, when it
runs out, fails with the package conditions, Crossplane's and the function's logs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hack.e2e.cluster.layout import REGISTRY
from hack.e2e.cluster.run import ClusterError
from tests.e2e.kube import Kube
from tests.e2e.render import ROOT

Obj = dict[str, Any]
NS = "crossplane-system"
README = ROOT / "README.md"
CRANK = ROOT / "bin" / "crossplane"
#: Where the README's block pushes our packages: the node's registry, under a path, as a
#: user's registry.example.com/acme.
E2E_REGISTRY = f"{REGISTRY}/e2e"
FUNCTION = "function-multigres"
CONFIGURATION = "configuration-multigres"
XRD = "xmultigreses.multigres.com"
METRIC = re.compile(r"^(?P<name>circuit_breaker_[a-z_]+)(?P<labels>\{[^}]*\})? (?P<value>\S+)$")
RESULT = re.compile(r'result="([^"]+)"')
BLOCK = re.compile(r"<!-- e2e: install -->\n```sh\n(.*?)```\n<!-- e2e: end -->", re.S)


def readme_install_block() -> str:
    """The README's install block, exactly as written."""
    found = BLOCK.findall(README.read_text())
    assert len(found) == 1, "README.md must hold one `<!-- e2e: install -->` sh block"
    return str(found[0])


def install_script(registry: str) -> str:
    """The block with its one `REGISTRY=` line pointed at `registry`; nothing else changes."""
    block = readme_install_block()
    lines = [line for line in block.splitlines() if line.startswith("REGISTRY=")]
    assert len(lines) == 1, f"the install block must set REGISTRY once: {lines}"
    return block.replace(lines[0], f"REGISTRY={registry}", 1)


class Crossplane:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.index: Obj = json.loads(kube.cluster.lay.crossplane_index.read_text())

    # --- failure details ----------------------------------------------------------------
    def describe(self) -> str:
        k = self.kube
        out = [
            k.kubectl("get", "pkg,pkgrev,imageconfigs,xrd", "-o", "wide", check=False),
            k.kubectl(
                "get", "pkg,pkgrev", "-o",
                "jsonpath={range .items[*]}{.kind}/{.metadata.name}: "
                "{range .status.conditions[*]}{.type}={.status} {.reason} {.message}; {end}{'\\n'}{end}",
                check=False,
            ),
            k.kubectl("get", "pods", "-n", NS, "-o", "wide", check=False),
            k.kubectl("get", "events", "-n", NS, "--sort-by=.lastTimestamp", check=False)[-3000:],
        ]  # fmt: skip
        for selector, container in (
            ("app=crossplane", "crossplane"),
            ("app=crossplane", "crossplane-init"),
        ):
            out.append(f"--- logs {selector} {container} ---")
            out.append(
                k.kubectl(
                    "logs", "-n", NS, "-l", selector, "-c", container, "--tail=40", check=False
                )
            )
        out.append(f"--- logs of the function ({FUNCTION}) ---")
        out.append(
            k.kubectl(
                "logs", "-n", NS, "-l", f"pkg.crossplane.io/function={FUNCTION}", "--tail=40", check=False
            )
        )  # fmt: skip
        return "\n".join(out)

    def wait(self, what: str, ok: Callable[[], bool], timeout: float) -> float:
        try:
            return self.kube.wait_for(what, ok, timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.describe()}") from None

    # --- Crossplane itself ------------------------------------------------------------------
    def install_core(self, timeout: float = 300) -> float:
        """The rendered chart, applied as `helm template ... | kubectl apply -f -` would."""
        t0 = time.monotonic()
        k = self.kube
        k.kubectl("create", "namespace", NS, check=False)
        k.kubectl("apply", "-f", self.index["chart_manifests"], timeout=180)
        for name in ("crossplane", "crossplane-rbac-manager"):
            self.wait(
                f"deployment {NS}/{name} Available",
                lambda name=name: "True"  # type: ignore[misc]
                in k.kubectl(
                    "get", "deployment", "-n", NS, name, "-o",
                    "jsonpath={.status.conditions[?(@.type=='Available')].status}", check=False,
                ),
                timeout,
            )  # fmt: skip
        for crd in ("functions", "configurations", "imageconfigs"):
            k.kubectl(
                "wait", "--for=condition=Established", f"crd/{crd}.pkg.crossplane.io", "--timeout=60s",
                timeout=70,
            )  # fmt: skip
        return time.monotonic() - t0

    # --- our packages ------------------------------------------------------------------------
    def run_install_block(self, registry: str = E2E_REGISTRY, timeout: float = 900) -> str:
        """The README's block in the node's network namespace (where the API server and the
        registry are), from the clone's root (it reads _out/ and apis/)."""
        lay = self.kube.cluster.lay
        with tempfile.TemporaryDirectory(prefix="fmg-e2e-bin-") as tmp:
            (Path(tmp) / "crossplane").symlink_to(CRANK)
            (Path(tmp) / "kubectl").symlink_to(lay.k8s_bin / "kubectl")
            env = {
                "PATH": f"{tmp}:/usr/local/bin:/usr/bin:/bin",
                "KUBECONFIG": str(lay.kubeconfig),
                "HOME": os.environ.get("HOME", "/root"),
            }
            cmd = self.kube.cluster.in_node(
                "bash", "-euo", "pipefail", "-c", install_script(registry)
            )
            try:
                r = subprocess.run(
                    cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
                )
            except subprocess.TimeoutExpired as e:
                raise AssertionError(
                    f"the README install block ran over {timeout}s\n{self.describe()}"
                ) from e
        if r.returncode:
            raise AssertionError(
                f"the README install block failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n{self.describe()}"
            )
        return r.stdout + r.stderr

    def function_deployment(self) -> Obj:
        """The Deployment the runtime made (named after the revision; the function's labels
        are on its selector and pods, not on the Deployment itself)."""
        items = [
            d
            for d in self.kube.get("deployments", ns=NS)["items"]
            if d["spec"]["selector"].get("matchLabels", {}).get("pkg.crossplane.io/function")
            == FUNCTION
        ]
        assert len(items) == 1, f"expected one Deployment running {FUNCTION}, found {len(items)}"
        return items[0]

    def function_available(self) -> bool:
        try:
            dep = self.function_deployment()
        except (AssertionError, ClusterError):
            return False
        return any(
            c["type"] == "Available" and c["status"] == "True"
            for c in dep.get("status", {}).get("conditions", [])
        )

    def healthy(self, kind: str, name: str) -> bool:
        obj = self.kube.maybe(kind, name)
        conds = {
            c["type"]: c["status"] for c in (obj or {}).get("status", {}).get("conditions", [])
        }
        return conds.get("Healthy") == "True" and conds.get("Installed") == "True"

    # --- the circuit breaker -----------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """Crossplane's Prometheus counters for its XR watch circuit breaker (port 8080,
        through the API server's pod proxy)."""
        pod = self.kube.kubectl(
            "get", "pods", "-n", NS, "-l", "app=crossplane", "-o", "jsonpath={.items[0].metadata.name}"
        ).strip()  # fmt: skip
        text = self.kube.kubectl(
            "get", "--raw", f"/api/v1/namespaces/{NS}/pods/{pod}:8080/proxy/metrics"
        )
        out: dict[str, float] = {}
        for line in text.splitlines():
            m = METRIC.match(line)
            if m:
                result = RESULT.search(m["labels"] or "")
                key = m["name"] + (f"/{result[1]}" if result else "")
                out[key] = out.get(key, 0.0) + float(m["value"])
        return out

    def breaker_events(self) -> float:
        m = self.metrics()
        return sum(v for k, v in m.items() if k.startswith("circuit_breaker_events_total"))

    def breaker_opens(self) -> float:
        return self.metrics().get("circuit_breaker_opens_total", 0.0)


def tokens_needed(series: list[tuple[float, float]], refill: float = 1.0) -> float:
    """The smallest burst the breaker's token bucket needs so it never runs dry, from
    (time, events counted so far) samples: each event takes a token, `refill` come back
    a second (Crossplane's defaults: burst 100, refill 1/s)."""
    started = next((t for t, n in series if n > 0), None)
    if started is None:
        return 0.0
    return max(n - refill * (t - started) for t, n in series)
