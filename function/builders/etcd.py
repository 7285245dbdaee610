"""etcd: the global topology store (StatefulSet, headless and client Services, PDB)."""

from __future__ import annotations

from function.builders import common as k
from function.builders.common import Obj
from function.defaults.upstream import HEALTH, PATHS, PORTS, UIDS
from function.resolve import Cluster

COMPONENT = "etcd"


def names(c: Cluster) -> dict[str, str]:
    return {
        "statefulset": k.fit(f"{c.name}-etcd", k.LIMIT_STATEFULSET),
        "headless": k.fit(f"{c.name}-etcd-headless"),
        "client": c.etcd_service,
        "pdb": k.fit(f"{c.name}-etcd"),
    }


def _env(c: Cluster) -> list[Obj]:
    n = names(c)
    sts, headless, ns = n["statefulset"], n["headless"], c.namespace
    peer, client, metrics = PORTS["etcd"]["peer"], PORTS["etcd"]["client"], PORTS["etcd"]["metrics"]
    members = ",".join(
        f"{sts}-{i}=http://{sts}-{i}.{headless}.{ns}.svc:{peer}"
        for i in range(c.spec.etcd.replicas)
    )
    own = f"$(POD_NAME).{headless}.$(POD_NAMESPACE).svc"
    return [
        k.env_field("POD_NAME", "metadata.name"),
        k.env_field("POD_NAMESPACE", "metadata.namespace"),
        {"name": "ETCD_NAME", "value": "$(POD_NAME)"},
        {"name": "ETCD_DATA_DIR", "value": f"{PATHS['etcd_data']}/data"},
        # [::] listens on IPv4 and IPv6 alike (as the upstream operator does).
        {"name": "ETCD_LISTEN_CLIENT_URLS", "value": f"http://[::]:{client}"},
        {"name": "ETCD_LISTEN_PEER_URLS", "value": f"http://[::]:{peer}"},
        {"name": "ETCD_LISTEN_METRICS_URLS", "value": f"http://[::]:{metrics}"},
        {"name": "ETCD_ADVERTISE_CLIENT_URLS", "value": f"http://{own}:{client}"},
        {"name": "ETCD_INITIAL_ADVERTISE_PEER_URLS", "value": f"http://{own}:{peer}"},
        {"name": "ETCD_INITIAL_CLUSTER", "value": members},
        {"name": "ETCD_INITIAL_CLUSTER_STATE", "value": "new"},
        {"name": "ETCD_INITIAL_CLUSTER_TOKEN", "value": sts},
    ]


def statefulset(c: Cluster) -> Obj:
    n = names(c)
    e = c.spec.etcd
    uid = UIDS["multigres"]
    probes = k.http_probes("metrics", HEALTH["etcd_ready"], HEALTH["etcd_live"], 150)
    container: Obj = {
        "name": "etcd",
        "image": c.spec.images.etcd,
        "imagePullPolicy": c.spec.images.pull_policy,
        "command": ["/usr/local/bin/etcd"],
        "env": _env(c),
        "ports": k.container_ports(PORTS["etcd"]),
        "resources": k.resources(e.resources),
        "securityContext": k.container_security(),
        "volumeMounts": [
            {"name": "data", "mountPath": PATHS["etcd_data"]},
            {"name": "tmp", "mountPath": PATHS["tmp"]},
        ],
        **probes,
    }
    vct: Obj = {
        "metadata": {"name": "data", "labels": k.labels(c, COMPONENT)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": e.storage.size}},
        },
    }
    if e.storage.storage_class_name:
        vct["spec"]["storageClassName"] = e.storage.storage_class_name
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": k.metadata(c, n["statefulset"], COMPONENT),
        "spec": {
            "replicas": e.replicas,
            "serviceName": n["headless"],
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": k.selector(c, COMPONENT)},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": c.spec.pvc_retention.when_deleted,
                "whenScaled": c.spec.pvc_retention.when_scaled,
            },
            "template": {
                "metadata": k.pod_metadata(c, COMPONENT),
                "spec": k.pod_spec(
                    c,
                    uid,
                    k.scheduling(c, e.scheduling, COMPONENT),
                    containers=[container],
                    volumes=[{"name": "tmp", "emptyDir": {}}],
                    terminationGracePeriodSeconds=30,
                ),
            },
            "volumeClaimTemplates": [vct],
        },
    }


def services(c: Cluster) -> dict[str, Obj]:
    n = names(c)
    p = PORTS["etcd"]
    return {
        "headless": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": k.metadata(c, n["headless"], COMPONENT),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": k.selector(c, COMPONENT),
                "ports": [
                    k.service_port("client", p["client"]),
                    k.service_port("peer", p["peer"]),
                ],
            },
        },
        "client": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": k.metadata(c, n["client"], COMPONENT),
            "spec": {
                "type": "ClusterIP",
                "selector": k.selector(c, COMPONENT),
                "ports": [k.service_port("client", p["client"])],
            },
        },
    }


def pdb(c: Cluster) -> Obj:
    """Keep quorum: at most (n-1)/2 voluntary disruptions; a lone member may be drained."""
    n = c.spec.etcd.replicas
    return k.pdb(c, names(c)["pdb"], COMPONENT, None, maxUnavailable=max(1, (n - 1) // 2))


def build(c: Cluster) -> dict[str, Obj]:
    svc = services(c)
    return {
        "etcd-statefulset": statefulset(c),
        "etcd-headless-service": svc["headless"],
        "etcd-service": svc["client"],
        "etcd-pdb": pdb(c),
    }
