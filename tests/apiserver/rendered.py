"""Render XRs through the function and push the output through a real API server."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import yaml
from apiserver_harness import ApiError, Kube, bare_pods

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

Obj = dict[str, Any]

# Kinds others depend on at admission time go first (a pod's ServiceAccount must exist);
# Usages, which only reference other objects by name, go last.
_ORDER = {
    "Namespace": 0,
    "ServiceAccount": 1,
    "Secret": 2,
    "ConfigMap": 2,
    "PersistentVolumeClaim": 3,
    "Service": 4,
    "Usage": 9,
}


def example_xrs() -> list[tuple[str, Obj]]:
    """(id, XR) for every XMultigres document in examples/*.yaml (not invalid/ etc.)."""
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(doc, dict) and doc.get("kind") == "XMultigres":
                found.append((f"{path.stem}" + (f"-{i}" if i else ""), doc))
    return found


def _xr(name: str, spec: Obj) -> Obj:
    spec.setdefault("postgres", {"passwordSecretRef": {"name": f"{name}-pg"}})
    return {
        "apiVersion": "multigres.com/v1alpha1",
        "kind": "XMultigres",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def _autoscaling(on: bool, lo: int = 1, hi: int = 4) -> Obj:
    return {"enabled": on, "minReplicas": lo, "maxReplicas": hi}


def generated_xrs(seeded: int = 4) -> list[tuple[str, Obj]]:
    """A sample of XRs beyond the examples: hand-picked corners, then `seeded` random mixes
    of cells, replicas and autoscaling (fixed seed: the same sample on every run)."""
    from function.defaults import spec as d

    longest_cell = "c" + "x" * (d.MAX_CELL_NAME - 1)
    out: list[tuple[str, Obj]] = [
        (
            "smallest",
            _xr(
                "s",
                {
                    "cells": [{"name": "a"}],
                    "etcd": {"replicas": 1},
                    "multigateway": {"replicas": 1},
                    "multiorch": {"replicas": 1},
                    # the fewest Postgres instances a durability policy accepts
                    "multipooler": {"replicasPerCell": 2},
                },
            ),
        ),
        (
            "one-gateway",
            _xr("one", {"multigateway": {"replicas": 1}}),
        ),
        (
            "longest-names",
            _xr(
                "n" * d.MAX_XR_NAME,
                {"cells": [{"name": longest_cell}, {"name": longest_cell[:-1] + "y"}]},
            ),
        ),
        (
            "all-autoscaling-netpol-nodeport",
            _xr(
                "auto",
                {
                    "cells": [{"name": "east", "zone": "z1"}, {"name": "west", "zone": "z2"}],
                    "etcd": {"replicas": 7},
                    "multigateway": {
                        "autoscaling": _autoscaling(True, 2, 8),
                        "service": {"type": "NodePort", "port": 6432},
                    },
                    "multiorch": {"autoscaling": _autoscaling(True)},
                    "multipooler": {"autoscaling": _autoscaling(True, 2, 5)},
                    "networkPolicy": {"enabled": True},
                    "pvcRetention": {"whenDeleted": "Delete", "whenScaled": "Delete"},
                    "backup": {"existingClaim": "shared-backups"},
                    "logLevel": "debug",
                },
            ),
        ),
    ]
    rng = random.Random(20240611)
    for i in range(seeded):
        n_cells = rng.randint(1, 4)
        spec: Obj = {
            "cells": [{"name": f"cell{j}"} for j in range(n_cells)],
            "etcd": {"replicas": rng.choice([1, 3, 5])},
            "multigateway": {
                "replicas": max(1, rng.randint(0, 5)),  # at least one gateway
                "autoscaling": _autoscaling(rng.random() < 0.5, 1, rng.randint(1, 10)),
            },
            "multiorch": {
                "replicas": rng.randint(1, 3),
                "autoscaling": _autoscaling(rng.random() < 0.3),
            },
            "multipooler": {
                "replicasPerCell": rng.randint(1, 5),
                "autoscaling": _autoscaling(rng.random() < 0.3, 1, 6),
            },
            "networkPolicy": {"enabled": rng.random() < 0.5},
        }
        if n_cells == 1:  # at least 2 Postgres instances in all (a standby)
            pooler = spec["multipooler"]
            pooler["replicasPerCell"] = max(2, pooler["replicasPerCell"])
            pooler["autoscaling"]["minReplicas"] = max(2, pooler["autoscaling"]["minReplicas"])
            pooler["autoscaling"]["maxReplicas"] = max(2, pooler["autoscaling"]["maxReplicas"])
        if n_cells >= 2 and rng.random() < 0.5:
            spec["postgres"] = {
                "passwordSecretRef": {"name": "pg", "key": "pw"},
                "durabilityPolicy": "MULTI_CELL_AT_LEAST_2",
            }
        out.append((f"random-{i}", _xr(f"r{i}", spec)))
    return out


def render(xr: Obj, namespace: str, observed: dict[str, Obj] | None = None) -> dict[str, Obj]:
    """The function's desired objects for `xr` placed in `namespace` (as Crossplane does)."""
    from function.fn import desired_objects

    xr = copy.deepcopy(xr)
    xr["metadata"]["namespace"] = namespace
    objs = desired_objects(xr, None, observed)
    for o in objs.values():
        if "namespace" in o.get("metadata", {}):
            raise AssertionError(f"{o['kind']} {o['metadata']['name']} sets a namespace")
        o["metadata"]["namespace"] = namespace
    return objs


def ordered(objs: dict[str, Obj]) -> list[tuple[str, Obj]]:
    return sorted(objs.items(), key=lambda kv: (_ORDER.get(kv[1]["kind"], 5), kv[0]))


def describe(obj: Obj) -> str:
    return f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def apply_all(kube: Kube, objs: dict[str, Obj]) -> dict[str, Obj]:
    """Server-side apply every object (fieldManager crossplane, force); fail on the first
    refusal or warning, naming the object. Returns key -> live object."""
    live = {}
    for key, obj in ordered(objs):
        try:
            res = kube.apply(obj)
        except ApiError as e:
            raise AssertionError(f"{key}: {describe(obj)} refused: {e.message}") from e
        assert not res.warnings, f"{key}: {describe(obj)} drew warnings: {res.warnings}"
        live[key] = res.obj
    return live


def ensure_priority_classes(kube: Kube, objs: dict[str, Obj]) -> None:
    """Create the PriorityClasses pods refer to (a cluster admin's job; the Priority
    admission plugin refuses pods naming a missing one)."""
    for obj in objs.values():
        for pod in bare_pods(obj):
            name = pod["spec"].get("priorityClassName")
            if name:
                pc = {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": name},
                    "value": 1000,
                }
                kube.apply(pc)


def admit_pods(kube: Kube, objs: dict[str, Obj]) -> int:
    """Dry-run create the Pod each workload's controller would create, so Pod Security
    (restricted) and pod validation judge it. Returns how many pods were judged."""
    ensure_priority_classes(kube, objs)
    n = 0
    for key, obj in ordered(objs):
        for pod in bare_pods(obj):
            try:
                res = kube.create(pod, dry_run=True)
            except ApiError as e:
                raise AssertionError(f"{key}: pod of {describe(obj)} refused: {e.message}") from e
            assert not res.warnings, f"{key}: pod of {describe(obj)} drew warnings: {res.warnings}"
            n += 1
    return n


def live_objects(kube: Kube, objs: dict[str, Obj]) -> dict[str, Obj]:
    """What Crossplane would pass as observed composed resources: key -> live object."""
    out = {}
    for key, obj in objs.items():
        try:
            out[key] = kube.get(obj)
        except ApiError as e:
            if e.status != 404:
                raise
    return out


def garbage_collect(kube: Kube, before: dict[str, Obj], after: dict[str, Obj]) -> list[str]:
    """Delete objects composed before but no longer desired, as Crossplane does."""
    gone = [k for k in before if k not in after]
    for k in gone:
        kube.delete(before[k])
    return gone
