"""The cluster add-ons every user's cluster has: cluster DNS and a default StorageClass.

CoreDNS (our minimal build, hack/e2e/coredns/) serves `cluster.local` from the API as
kube-dns does; it listens on 1053 so it runs as non-root with no capability, and the
kube-dns Service maps 53 to it. rancher's local-path-provisioner is the default
StorageClass, so volumeClaimTemplates and the backup PVC bind dynamically, as on kind;
in its shared-file-system mode, so ReadWriteMany claims bind too (see `local_path`).
The manifests are ours, written from the upstream projects' documented configuration.
"""

from __future__ import annotations

import json
from typing import Any

from . import layout as L

Obj = dict[str, Any]

IMAGES = {
    "coredns": "e2e.local/coredns:v1.15.0",
    "local-path": "e2e.local/local-path-provisioner:v0.0.30",
    "busybox": "e2e.local/busybox:1",
    "pause": "e2e.local/pause:1",
}

COREFILE = f""".:1053 {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {L.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    cache 30
    loadbalance
    reload
}}
"""

RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _meta(name: str, ns: str | None = None, **labels: str) -> Obj:
    m: Obj = {"name": name}
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = labels
    return m


def _rbac(name: str, ns: str, rules: list[Obj], cluster: bool = True) -> list[Obj]:
    kind = "ClusterRole" if cluster else "Role"
    meta = _meta(name) if cluster else _meta(name, ns)
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": meta,
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": f"{kind}Binding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
        },
    ]


def _deployment(name: str, ns: str, pod: Obj) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, ns, **labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"serviceAccountName": name, **pod},
            },
        },
    }


def coredns() -> list[Obj]:
    ns = "kube-system"
    read = ["list", "watch"]
    rules = [
        {
            "apiGroups": [""],
            "resources": ["endpoints", "services", "pods", "namespaces"],
            "verbs": read,
        },
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
    ]
    probe = {"periodSeconds": 5, "timeoutSeconds": 2}
    pod = {
        "priorityClassName": "system-cluster-critical",
        "dnsPolicy": "Default",
        "containers": [
            {
                "name": "coredns",
                "image": IMAGES["coredns"],
                "imagePullPolicy": "IfNotPresent",
                "args": ["-conf", "/etc/coredns/Corefile"],
                "ports": [
                    {"name": "dns", "containerPort": 1053, "protocol": "UDP"},
                    {"name": "dns-tcp", "containerPort": 1053, "protocol": "TCP"},
                ],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, **probe},
                "livenessProbe": {
                    "httpGet": {"path": "/health", "port": 8080},
                    **probe,
                    "failureThreshold": 5,
                },
                "securityContext": RESTRICTED,
                "resources": {
                    "requests": {"cpu": "50m", "memory": "32Mi"},
                    "limits": {"memory": "128Mi"},
                },
                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("coredns", ns)},
        *_rbac("coredns", ns, rules),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("coredns", ns),
            "data": {"Corefile": COREFILE},
        },
        _deployment("coredns", ns, pod),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("kube-dns", ns, **{"k8s-app": "kube-dns"}),
            "spec": {
                "clusterIP": L.DNS_SERVICE_IP,
                "selector": {"app": "coredns"},
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"},
                ],
            },
        },
    ]


def local_path(volumes_dir: str) -> list[Obj]:
    ns = "local-path-storage"
    name = "local-path-provisioner"
    all_verbs = ["get", "list", "watch", "create", "patch", "update", "delete"]
    cluster_rules = [
        {
            "apiGroups": [""],
            "resources": ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"],
            "verbs": ["get", "list", "watch"],
        },
        {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": all_verbs},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {
            "apiGroups": ["storage.k8s.io"],
            "resources": ["storageclasses"],
            "verbs": ["get", "list", "watch"],
        },
    ]
    # One node: its file system is shared by every pod on it, so the class serves
    # ReadWriteMany too (local-path's shared-file-system mode), like an NFS-backed class.
    config = {"sharedFileSystemPath": volumes_dir}
    helper = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "helper-pod"},
        "spec": {
            "priorityClassName": "system-node-critical",
            "containers": [
                {
                    "name": "helper-pod",
                    "image": IMAGES["busybox"],
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
        },
    }
    pod = {
        "containers": [
            {
                "name": name,
                "image": IMAGES["local-path"],
                "imagePullPolicy": "IfNotPresent",
                "command": [
                    "local-path-provisioner",
                    "--debug",
                    "start",
                    "--config",
                    "/etc/config/config.json",
                    "--service-account-name",
                    name,
                ],
                "env": [
                    {
                        "name": "POD_NAMESPACE",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                    },
                    {"name": "CONFIG_MOUNT_PATH", "value": "/etc/config/"},
                ],
                "securityContext": RESTRICTED,
                "volumeMounts": [{"name": "config", "mountPath": "/etc/config/"}],
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": "local-path-config"}}],
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, ns)},
        *_rbac(
            name,
            ns,
            [{"apiGroups": [""], "resources": ["pods"], "verbs": all_verbs}],
            cluster=False,
        ),
        *_rbac(name, ns, cluster_rules),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("local-path-config", ns),
            "data": {
                "config.json": json.dumps(config),
                "setup": '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
                "teardown": '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
                "helperPod.yaml": json.dumps(helper),
            },
        },
        _deployment(name, ns, pod),
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "local-path",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "rancher.io/local-path",
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Delete",
            "allowVolumeExpansion": False,
        },
    ]


def manifests(volumes_dir: str) -> Obj:
    return {"apiVersion": "v1", "kind": "List", "items": [*coredns(), *local_path(volumes_dir)]}
