"""Evidence that a ReadWriteOnce backup volume is what keeps poolers from starting.

Every pooler mounts the backup volume. With ReadWriteOnce storage that works on one node
and fails on several, but a pooler that is not ready yet is the normal state of every
start, so a warning on "not ready" alone is noise (real Crossplane saw 17 on one node).
The function therefore asks Crossplane for the nodes and, when there are several, the
pooler pods (required resources: fetched on each reconcile, not watched, so no extra
watch events), and warns only on what they show.
"""

from __future__ import annotations

from typing import Any

from crossplane.function import response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.resolve import Cluster

Obj = dict[str, Any]

NODES_REQUIREMENT = "cluster-nodes"
POOLER_PODS_REQUIREMENT = "pooler-pods"
REQUIREMENTS = (NODES_REQUIREMENT, POOLER_PODS_REQUIREMENT)


def shared_rwo_backup(c: Cluster) -> bool:
    """The composed backup volume is not ReadWriteMany, yet every pooler mounts it."""
    b = c.spec.backup
    return not b.existing_claim and "ReadWriteMany" not in b.storage.access_modes


def require(rsp: fnv1.RunFunctionResponse, c: Cluster, required: dict[str, list[Obj]]) -> None:
    """Ask for the nodes (RWO backup only), and for the pooler pods once there are several."""
    if not shared_rwo_backup(c):
        return
    response.require_resources(rsp, NODES_REQUIREMENT, "v1", "Node")
    if len(required.get(NODES_REQUIREMENT) or []) > 1:
        response.require_resources(
            rsp,
            POOLER_PODS_REQUIREMENT,
            "v1",
            "Pod",
            match_labels={
                "app.kubernetes.io/instance": c.name,
                "app.kubernetes.io/component": "multipooler",
            },
            namespace=c.namespace,
        )


def rwo_backup_blocked(c: Cluster, required: dict[str, list[Obj]]) -> str:
    """Why a ReadWriteOnce backup volume is keeping poolers from starting, or "".

    Only with evidence: more than one node, and a pooler pod that cannot start (pending)
    on another node than a running pooler that has the volume attached, or one the
    scheduler refuses for a volume node affinity conflict. On one node, or before
    Crossplane has sent the nodes and pods, nothing is said.
    """
    if not shared_rwo_backup(c):
        return ""
    nodes = required.get(NODES_REQUIREMENT)
    pods = required.get(POOLER_PODS_REQUIREMENT)
    if not nodes or len(nodes) < 2 or not pods:
        return ""
    holders = sorted(
        {
            (p.get("spec") or {}).get("nodeName", "")
            for p in pods
            if (p.get("status") or {}).get("phase") == "Running"
        }
        - {""}
    )
    stuck = []
    for p in pods:
        st, spec = p.get("status") or {}, p.get("spec") or {}
        name, node = (p.get("metadata") or {}).get("name", "?"), spec.get("nodeName")
        if st.get("phase") != "Pending":
            continue
        unschedulable = [
            cond.get("message") or ""
            for cond in st.get("conditions") or []
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False"
        ]
        if any("volume node affinity conflict" in m for m in unschedulable):
            stuck.append(f"{name} (unschedulable: volume node affinity conflict)")
        elif node and holders and node not in holders:
            stuck.append(f"{name} (on node {node}, the volume is attached on {', '.join(holders)})")
    if not stuck:
        return ""
    return (
        f"poolers cannot start: {'; '.join(sorted(stuck))}. Every pooler mounts the backup "
        f"volume, which is {'/'.join(c.spec.backup.storage.access_modes)}, so pods on other "
        "nodes can not attach it. Use ReadWriteMany storage (spec.backup.storage) or an "
        "existing RWX claim (spec.backup.existingClaim) on multi-node clusters"
    )
