"""Shared pieces of every builder: names, labels, security, probes, scheduling.

All functions are pure: they read the resolved `Cluster` and return new dicts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from function.api import Resources, Scheduling
from function.defaults.upstream import FLAGS
from function.resolve import Cluster

Obj = dict[str, Any]

MANAGED_BY = "function-multigres"
CELL_LABEL = "multigres.com/cell"
GLOBAL_CELL = "multigres-global"

#: Kubernetes name limits the builders must respect.
LIMIT_DNS_LABEL = 63
LIMIT_STATEFULSET = 52  # leaves room for the controller-revision-hash label


def short_hash(value: Any, length: int = 8) -> str:
    """A stable hex digest of any JSON-able value (same input, same hash, any process)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def fit(name: str, limit: int = LIMIT_DNS_LABEL) -> str:
    """Return `name` if it fits `limit`, else a truncated prefix plus a stable hash.

    The schema bounds XR and cell names so this never triggers for valid input;
    it is the belt to that pair of braces.
    """
    if len(name) <= limit:
        return name
    h = short_hash(name)
    return f"{name[: limit - len(h) - 1].rstrip('-')}-{h}"


def selector(c: Cluster, component: str, cell: str | None = None) -> dict[str, str]:
    """Immutable labels only: a selector can never change after creation."""
    return {
        "app.kubernetes.io/name": "multigres",
        "app.kubernetes.io/instance": c.name,
        "app.kubernetes.io/component": component,
        CELL_LABEL: cell or GLOBAL_CELL,
    }


def labels(c: Cluster, component: str, cell: str | None = None) -> dict[str, str]:
    return {
        **selector(c, component, cell),
        "app.kubernetes.io/part-of": "multigres",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def metadata(c: Cluster, name: str, component: str, cell: str | None = None) -> Obj:
    return {"name": name, "labels": labels(c, component, cell)}


def pod_metadata(
    c: Cluster, component: str, cell: str | None = None, annotations: dict[str, str] | None = None
) -> Obj:
    """Pod template metadata: user labels first, so ours win on a clash."""
    meta: Obj = {"labels": {**c.spec.pod_labels, **labels(c, component, cell)}}
    ann = {**c.spec.pod_annotations, **(annotations or {})}
    if ann:
        meta["annotations"] = ann
    return meta


def resources(r: Resources) -> Obj:
    out: Obj = {}
    if r.requests:
        out["requests"] = dict(r.requests)
    if r.limits:
        out["limits"] = dict(r.limits)
    return out


def pod_security(uid: int) -> Obj:
    """Pod Security Standard *restricted* at pod level; fsGroup makes volumes writable."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> Obj:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def http_probes(port: str, ready: str, live: str, startup_seconds: int = 300) -> Obj:
    """Startup gates liveness so a slow first start (initdb, bootstrap) is not killed."""
    period = 5
    return {
        "startupProbe": {
            "httpGet": {"path": live, "port": port},
            "periodSeconds": period,
            "failureThreshold": startup_seconds // period,
            "timeoutSeconds": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": ready, "port": port},
            "periodSeconds": period,
            "failureThreshold": 3,
            "timeoutSeconds": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": live, "port": port},
            "periodSeconds": 10,
            "failureThreshold": 6,
            "timeoutSeconds": 5,
        },
    }


def env_field(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def pod_env() -> list[Obj]:
    """Fresh dicts each call: no two built objects share a mutable part."""
    return [
        env_field("POD_NAME", "metadata.name"),
        env_field("POD_NAMESPACE", "metadata.namespace"),
        env_field("POD_IP", "status.podIP"),
    ]


def scheduling(
    c: Cluster,
    own: Scheduling | None,
    component: str,
    cell: str | None = None,
    zone: str | None = None,
) -> Obj:
    """Pod spec placement: component fields replace top-level ones; defaults fill the rest."""
    top = c.spec.scheduling
    merged = {
        f: getattr(own, f) if own is not None and getattr(own, f) is not None else getattr(top, f)
        for f in Scheduling.model_fields
    }
    out: Obj = {}
    node_selector = dict(merged["node_selector"] or {})
    if zone:
        node_selector.setdefault("topology.kubernetes.io/zone", zone)
    if node_selector:
        out["nodeSelector"] = node_selector
    out["affinity"] = merged["affinity"] or {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": selector(c, component, cell)},
                    },
                }
            ]
        }
    }
    if merged["tolerations"]:
        out["tolerations"] = list(merged["tolerations"])
    if merged["topology_spread_constraints"]:
        out["topologySpreadConstraints"] = list(merged["topology_spread_constraints"])
    if merged["priority_class_name"]:
        out["priorityClassName"] = merged["priority_class_name"]
    return out


def pod_spec(c: Cluster, uid: int, placement: Obj, **fields: Any) -> Obj:
    """A pod spec with the shared service account, pull secrets and security context."""
    spec: Obj = {
        "serviceAccountName": c.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(uid),
        **placement,
        **fields,
    }
    if c.spec.images.pull_secrets:
        spec["imagePullSecrets"] = [{"name": s.name} for s in c.spec.images.pull_secrets]
    return spec


def hpa(
    c: Cluster, name: str, kind: str, component: str, cell: str | None, autoscaling: Any
) -> Obj:
    """An autoscaling/v2 HPA on CPU utilisation for the named workload."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(c, name, component, cell),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
            "minReplicas": autoscaling.min_replicas,
            "maxReplicas": autoscaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": autoscaling.target_cpu_utilization_percentage,
                        },
                    },
                }
            ],
        },
    }


def pdb(c: Cluster, name: str, component: str, cell: str | None, **budget: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(c, name, component, cell),
        "spec": {**budget, "selector": {"matchLabels": selector(c, component, cell)}},
    }


def service_port(name: str, port: int, target: str | None = None) -> Obj:
    return {"name": name, "port": port, "targetPort": target or name, "protocol": "TCP"}


def container_ports(ports: dict[str, int]) -> list[Obj]:
    return [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports.items()]


def server_args(c: Cluster, ports: dict[str, int], cell: str) -> list[str]:
    """The flags every Multigres server gets: its ports, the topology, its cell and identity."""
    f = FLAGS["common"]
    return [
        f"{f['http_port']}={ports['http']}",
        f"{f['grpc_port']}={ports['grpc']}",
        f"{f['topo_addresses']}={c.topo_address}",
        f"{f['topo_root']}={c.topo_root}",
        f"{f['cell']}={cell}",
        f"{f['hostname']}=$(POD_IP)",
        f"{f['service_id']}=$(POD_NAME)",
        f"{f['log_level']}={c.spec.log_level}",
    ]
