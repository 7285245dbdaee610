"""Record observed composed resources from the e2e cluster, and judge them with the function.

`examples/observed/*.yaml` feed the golden files and the readiness tests. Modelled by
hand, their `status` would only be our own opinion of what the controllers write; this
records it from real ones (kube-controller-manager, kubelet, Crossplane) while
test_crossplane.py creates examples/minimal.yaml: one snapshot while the function still
says Progressing ("coming-up") and one once the XR is Ready ("healthy").

Every e2e run writes the snapshots to tests/e2e/results/observed/ and checks that the
function, given each one the way Crossplane sends it, says what Crossplane saw it say.
`make observed` copies them into examples/observed/ (then `make golden`, read the diff).

What changes from run to run without meaning is normalised so a re-recording diffs only
where behaviour changed: uids (renumbered in order of appearance), timestamps, cluster
IPs, resourceVersion, managedFields, kubectl's last-applied annotation.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

from tests import goldens
from tests.e2e.kube import Kube

Obj = dict[str, Any]

OUT = Path(__file__).resolve().parent / "results" / "observed"
RESOURCE_NAME = goldens.RESOURCE_NAME
EXAMPLE = "examples/minimal.yaml"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
FIXED_TIME = "2026-01-01T00:00:00Z"
DROP_META = ("managedFields", "resourceVersion", "creationTimestamp", "selfLink")
DROP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def snapshot(kube: Kube, ns: str, kinds: list[str], selector: str) -> list[Obj]:
    """Every composed object (one kubectl call), normalised, ordered by resource name."""
    out = kube.kubectl("get", ",".join(kinds), "-n", ns, "-l", selector, "-o", "json")
    items = [o for o in json.loads(out)["items"] if RESOURCE_NAME in _annotations(o)]
    return normalise(sorted(items, key=lambda o: _annotations(o)[RESOURCE_NAME]))


def _annotations(o: Obj) -> dict[str, str]:
    return (o.get("metadata") or {}).get("annotations") or {}


def normalise(objs: list[Obj]) -> list[Obj]:
    """The objects without what differs between identical runs (see the module docstring)."""
    uids: dict[str, str] = {}
    ips: dict[str, str] = {}

    def uid(m: re.Match[str]) -> str:
        return uids.setdefault(m.group(0), f"00000000-0000-4000-8000-{len(uids):012d}")

    def walk(v: Any, key: str = "") -> Any:
        if isinstance(v, dict):
            return {k: walk(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, key) for x in v]
        if not isinstance(v, str):
            return v
        if key in ("clusterIP", "clusterIPs") and v != "None":
            return ips.setdefault(v, f"10.96.0.{len(ips) + 10}")
        if _TIME.match(v):
            return FIXED_TIME
        return _UUID.sub(uid, v)

    out = []
    for o in objs:
        meta = o.get("metadata") or {}
        for k in DROP_META:
            meta.pop(k, None)
        for k in DROP_ANNOTATIONS:
            (meta.get("annotations") or {}).pop(k, None)
        out.append(walk(o))
    return out


def write(name: str, objs: list[Obj], what: str, out: Path = OUT) -> Path:
    """Write a snapshot as a multi-document YAML whose first line names its example."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.yaml"
    head = (
        f"# Observed resources of {EXAMPLE}, {what}. Recorded from real Crossplane and\n"
        "# controllers on the e2e node by tests/e2e/observed.py; copy with `make observed`.\n"
    )
    path.write_text(head + yaml.safe_dump_all(objs, sort_keys=False))
    return path


def judge(objs: list[Obj]) -> Obj:
    """The XR status the function answers for these observed objects (as golden files run
    it: the example, the Composition's input, then the required resources it asks for)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write("snapshot", objs, "snapshot", Path(tmp))
        case = goldens.Case("snapshot", goldens.ROOT / EXAMPLE, path)
        rsp = goldens.respond(case)
    status: Obj = json_format.MessageToDict(rsp.desired.composite.resource).get("status") or {}
    return status
