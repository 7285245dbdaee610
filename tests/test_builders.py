"""Table-driven builder tests: what each spec knob does to the composed objects."""

from __future__ import annotations

from typing import Any

import pytest

from function.builders import build, topology
from function.resolve import resolve_xr
from tests.helpers import xr


def objs(**spec: Any) -> dict[str, Any]:
    return build(resolve_xr(xr(**spec)))


def keys(o: dict[str, Any]) -> set[str]:
    """The resource keys, the topology Job's without the hash it carries."""
    return {topology.KEY if x.startswith(f"{topology.KEY}-") else x for x in o}


def container(o: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in o["spec"]["template"]["spec"]["containers"] if c["name"] == name)


KEYS_MINIMAL = {
    "serviceaccount", "etcd-statefulset", "etcd-headless-service", "etcd-service", "etcd-pdb",
    "topology-job", "multigateway-service", "zone1-multigateway-deployment",
    "zone1-multiorch-deployment", "zone1-pooler-statefulset", "zone1-pooler-service",
    "zone1-pooler-pdb", "backup-pvc", "zone1-pooler-usage", "zone1-multiorch-usage",
    "zone1-multigateway-usage", "multiadmin-usage", "multiadmin-deployment", "multiadmin-service",
    "pg-hba-configmap", "pgbackrest-ca-job", "pgbackrest-ca-serviceaccount", "pgbackrest-ca-role",
    "pgbackrest-ca-rolebinding", "postgres-config-configmap",
}  # fmt: skip

CASES: list[tuple[str, dict[str, Any], Any]] = [
    ("minimal composes the documented keys", {}, lambda o: keys(o) == KEYS_MINIMAL),
    (
        "etcd replicas drive the StatefulSet and initial cluster",
        {"etcd": {"replicas": 5}},
        lambda o: (
            o["etcd-statefulset"]["spec"]["replicas"] == 5
            and next(
                e
                for e in container(o["etcd-statefulset"], "etcd")["env"]
                if e["name"] == "ETCD_INITIAL_CLUSTER"
            )["value"].count("=http://")
            == 5
        ),
    ),
    (
        "etcd PDB keeps quorum",
        {"etcd": {"replicas": 5}},
        lambda o: o["etcd-pdb"]["spec"]["maxUnavailable"] == 2,
    ),
    (
        "a lone etcd may still be drained",
        {"etcd": {"replicas": 1}},
        lambda o: o["etcd-pdb"]["spec"]["maxUnavailable"] == 1,
    ),
    (
        "three cells compose per-cell objects",
        {"cells": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
        lambda o: all(
            f"{c}-pooler-statefulset" in o and f"{c}-multigateway-deployment" in o for c in "abc"
        ),
    ),
    (
        "a cell zone pins its pods",
        {"cells": [{"name": "a", "zone": "eu-1a"}]},
        lambda o: (
            o["a-pooler-statefulset"]["spec"]["template"]["spec"]["nodeSelector"]
            == {"topology.kubernetes.io/zone": "eu-1a"}
        ),
    ),
    (
        "gateway autoscaling adds an HPA and drops replicas",
        {"multigateway": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 5}}},
        lambda o: (
            o["zone1-multigateway-hpa"]["spec"]["maxReplicas"] == 5
            and "replicas" not in o["zone1-multigateway-deployment"]["spec"]
        ),
    ),
    (
        "pooler autoscaling targets the StatefulSet",
        {"multipooler": {"autoscaling": {"enabled": True, "maxReplicas": 4}}},
        lambda o: (
            o["zone1-pooler-hpa"]["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
            and "replicas" not in o["zone1-pooler-statefulset"]["spec"]
        ),
    ),
    (
        "existing backup claim composes no PVC",
        {"backup": {"existingClaim": "shared-backups"}},
        lambda o: (
            "backup-pvc" not in o
            and {"name": "backups", "persistentVolumeClaim": {"claimName": "shared-backups"}}
            in o["zone1-pooler-statefulset"]["spec"]["template"]["spec"]["volumes"]
        ),
    ),
    (
        "network policies are opt-in",
        {"networkPolicy": {"enabled": True}},
        lambda o: {"networkpolicy-internal", "networkpolicy-gateway"} <= set(o),
    ),
    (
        "usages can be turned off",
        {"usages": {"enabled": False}},
        lambda o: not any("usage" in k for k in o),
    ),
    (
        "PVC retention defaults to Retain",
        {},
        lambda o: (
            o["zone1-pooler-statefulset"]["spec"]["persistentVolumeClaimRetentionPolicy"]
            == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        ),
    ),
    (
        "PVC retention follows the spec",
        {"pvcRetention": {"whenDeleted": "Delete"}},
        lambda o: (
            o["etcd-statefulset"]["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"]
            == "Delete"
        ),
    ),
    (
        "password secret is mounted from the referenced key",
        {"postgres": {"passwordSecretRef": {"name": "pw", "key": "pass"}}},
        lambda o: (
            {"key": "pass", "path": "password"}
            in next(
                v
                for v in o["zone1-pooler-statefulset"]["spec"]["template"]["spec"]["volumes"]
                if v["name"] == "password"
            )["secret"]["items"]
        ),
    ),
    (
        "pooler wiring flags",
        {},
        lambda o: (
            {
                "--database=postgres",
                "--table-group=default",
                "--shard=0-inf",
                "--pgctld-addr=localhost:15470",
                "--cell=zone1",
            }
            <= set(container(o["zone1-pooler-statefulset"], "multipooler")["args"])
        ),
    ),
    (
        "pooler registers its pod IP (a re-created pod's record changes at once)",
        {},
        lambda o: (
            "--hostname=$(POD_IP)"
            in container(o["zone1-pooler-statefulset"], "multipooler")["args"]
            and any(
                e["name"] == "POD_IP" and e["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
                for e in container(o["zone1-pooler-statefulset"], "multipooler")["env"]
            )
        ),
    ),
    (
        "multiorch watches the only shard",
        {},
        lambda o: (
            "--watch-targets=postgres/default/0-inf"
            in container(o["zone1-multiorch-deployment"], "multiorch")["args"]
        ),
    ),
    (
        "topology job registers every cell and the policy",
        {
            "cells": [{"name": "a"}, {"name": "b"}],
            "postgres": {
                "passwordSecretRef": {"name": "x"},
                "durabilityPolicy": "MULTI_CELL_AT_LEAST_2",
            },
        },
        lambda o: (
            {
                "--cells=a,b",
                "--durability-policy=MULTI_CELL_AT_LEAST_2",
                "--backup-location=/backups",
            }
            <= set(container(o[topology.key(o)], "createclustermetadata")["args"])
        ),
    ),
    (
        "log level reaches every Multigres process",
        {"logLevel": "debug"},
        lambda o: (
            "--log-level=debug"
            in container(o["zone1-multigateway-deployment"], "multigateway")["args"]
        ),
    ),
    (
        "gateway service type, port and annotations",
        {
            "multigateway": {
                "service": {"type": "LoadBalancer", "port": 6432, "annotations": {"a": "b"}}
            }
        },
        lambda o: (
            o["multigateway-service"]["spec"]["type"] == "LoadBalancer"
            and o["multigateway-service"]["spec"]["ports"][0]["port"] == 6432
            and o["multigateway-service"]["metadata"]["annotations"] == {"a": "b"}
        ),
    ),
    (
        "pod labels are added but never override ours",
        {"podLabels": {"team": "x", "app.kubernetes.io/instance": "evil"}},
        lambda o: (
            o["etcd-statefulset"]["spec"]["template"]["metadata"]["labels"]["team"] == "x"
            and o["etcd-statefulset"]["spec"]["template"]["metadata"]["labels"][
                "app.kubernetes.io/instance"
            ]
            == "demo"
        ),
    ),
    (
        "component scheduling replaces top-level field by field",
        {
            "scheduling": {"nodeSelector": {"pool": "general"}, "priorityClassName": "high"},
            "multipooler": {"scheduling": {"nodeSelector": {"pool": "db"}}},
        },
        lambda o: (
            o["zone1-pooler-statefulset"]["spec"]["template"]["spec"]["nodeSelector"]
            == {"pool": "db"}
            and o["zone1-pooler-statefulset"]["spec"]["template"]["spec"]["priorityClassName"]
            == "high"
            and o["etcd-statefulset"]["spec"]["template"]["spec"]["nodeSelector"]
            == {"pool": "general"}
        ),
    ),
    (
        "images and pull secrets",
        {
            "images": {
                "multigres": "reg/mg:1",
                "pullSecrets": [{"name": "regcred"}],
                "pullPolicy": "Always",
            }
        },
        lambda o: (
            container(o["zone1-multiorch-deployment"], "multiorch")["image"] == "reg/mg:1"
            and container(o["zone1-multiorch-deployment"], "multiorch")["imagePullPolicy"]
            == "Always"
            and o[topology.key(o)]["spec"]["template"]["spec"]["imagePullSecrets"]
            == [{"name": "regcred"}]
        ),
    ),
    (
        "storage class and size reach the claim templates",
        {"multipooler": {"storage": {"size": "20Gi", "storageClassName": "fast"}}},
        lambda o: (
            o["zone1-pooler-statefulset"]["spec"]["volumeClaimTemplates"][0]["spec"]
            == {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "20Gi"}},
                "storageClassName": "fast",
            }
        ),
    ),
]


@pytest.mark.parametrize(("name", "spec", "check"), CASES, ids=[c[0] for c in CASES])
def test_builder(name: str, spec: dict[str, Any], check: Any) -> None:
    assert check(objs(**spec)), name


def test_topology_job_name_and_key_follow_its_template() -> None:
    def job(**spec: Any) -> tuple[str, str]:
        o = objs(**spec)
        return topology.key(o), o[topology.key(o)]["metadata"]["name"]

    (ka, a), (kb, b) = job(), job(cells=[{"name": "zone1"}, {"name": "zone2"}])
    assert a != b and a.startswith("demo-topo-") and ka != kb
    assert ka == f"topology-job-{a.removeprefix('demo-topo-')}"  # one hash names both
    assert job() == (ka, a)


def test_input_defaults_sit_between_builtin_and_xr() -> None:
    raw_input = {
        "apiVersion": "multigres.fn.crossplane.io/v1beta1",
        "kind": "Input",
        "defaults": {
            "images": {"multigres": "org/mg:1", "pgctld": "org/pg:1"},
            "multigateway": {"resources": {"requests": {"cpu": "1"}}},
        },
    }
    c = resolve_xr(xr(images={"pgctld": "team/pg:2"}), raw_input)
    assert c.spec.images.multigres == "org/mg:1"  # input beats built-in
    assert c.spec.images.pgctld == "team/pg:2"  # XR beats input
    assert c.spec.images.etcd.startswith("gcr.io/etcd-development/etcd:")  # built-in
    assert c.spec.multigateway.resources.requests == {"cpu": "1"}
