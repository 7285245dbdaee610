"""Cluster-wide objects: ServiceAccount, pg_hba ConfigMap, backup PVC, NetworkPolicies,
Usages."""

from __future__ import annotations

from function.builders import common as k
from function.builders.common import Obj
from function.defaults import pg_hba
from function.defaults.upstream import PATHS, PORTS
from function.resolve import Cluster


def backup_claim_name(c: Cluster) -> str:
    return c.spec.backup.existing_claim or k.fit(f"{c.name}-backups")


def service_account(c: Cluster) -> Obj:
    """No API access is needed by any Multigres process, so no token is mounted."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": k.metadata(c, c.name, "serviceaccount"),
        "automountServiceAccountToken": False,
    }


def pg_hba_name(c: Cluster) -> str:
    return k.fit(f"{c.name}-pg-hba")


PG_HBA_KEY = PATHS["pg_hba_template"].rsplit("/", 1)[1]


def pg_hba_configmap(c: Cluster) -> Obj:
    """The template pgctld renders into pg_hba.conf at initdb (`--pg-hba-template`)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": k.metadata(c, pg_hba_name(c), "pg-hba"),
        "data": {PG_HBA_KEY: pg_hba.template()},
    }


def backup_pvc(c: Cluster) -> Obj:
    b = c.spec.backup.storage
    spec: Obj = {
        "accessModes": list(b.access_modes),
        "resources": {"requests": {"storage": b.size}},
    }
    if b.storage_class_name:
        spec["storageClassName"] = b.storage_class_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": k.metadata(c, backup_claim_name(c), "backup"),
        "spec": spec,
    }


def _ingress_policy(c: Cluster, name: str, pods: dict[str, str], ingress: list[Obj]) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": k.metadata(c, k.fit(f"{c.name}-{name}"), "networkpolicy"),
        "spec": {
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def network_policies(c: Cluster) -> dict[str, Obj]:
    """Gateway: Postgres port open to every source; everything else: own pods only."""
    instance = {"app.kubernetes.io/instance": c.name}
    gw = {**instance, "app.kubernetes.io/component": "multigateway"}
    pg = PORTS["multigateway"]["postgres"]
    own_pods = [{"from": [{"podSelector": {"matchLabels": dict(instance)}}]}]
    return {
        "networkpolicy-internal": _ingress_policy(c, "internal", dict(instance), own_pods),
        "networkpolicy-gateway": _ingress_policy(
            c, "gateway", gw, [{"ports": [{"protocol": "TCP", "port": pg}]}]
        ),
    }


def usage(c: Cluster, key: str, of: tuple[str, str], by: tuple[str, str]) -> Obj:
    """A Usage that blocks deleting `of` (etcd) while `by` still exists."""
    return {
        "apiVersion": "protection.crossplane.io/v1beta1",
        "kind": "Usage",
        "metadata": k.metadata(c, k.fit(f"{c.name}-{key}"), "usage"),
        "spec": {
            "of": {"apiVersion": "apps/v1", "kind": of[0], "resourceRef": {"name": of[1]}},
            "by": {"apiVersion": "apps/v1", "kind": by[0], "resourceRef": {"name": by[1]}},
            "reason": "etcd holds the topology the Multigres processes need while they shut down",
            "replayDeletion": True,
        },
    }
