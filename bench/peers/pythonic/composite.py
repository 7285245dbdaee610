"""XMultigres composed by function-pythonic (crossplane-function-pythonic 0.6.3).

The benchmark's peer: the objects, names and fields function-multigres composes for the
benchmark's XRs, computed from the XR (a loop over its cells, defaults for what the XR
leaves out), as a platform team would write it for function-pythonic. Like the
go-templating peer it does less than ours: no validation, no XR status, no events, no
immutable-field guard. function-pythonic judges readiness itself for Deployments,
StatefulSets, Jobs, claims, Services and HPAs; it has no rule for PodDisruptionBudgets,
Usages or NetworkPolicies, so those are ready once they exist, as ours says.

bench/peers/pythonic/composition.yaml embeds this file (python bench/peers/sync.py); the
function execs it and uses its BaseComposite subclass.
"""

import hashlib
import json

from crossplane.pythonic import BaseComposite

MG_IMAGE = "ghcr.io/multigres/multigres:sha-66d2310"
PG_IMAGE = "ghcr.io/multigres/pgctld:sha-66d2310"
ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.6.7"
UID = 65532
PG_UID = 999
#: Kinds function-pythonic's automatic readiness does not judge: ready once observed.
EXIST_READY = ("PodDisruptionBudget", "Usage", "NetworkPolicy")


def dig(d, *path, default=None):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def sel(name, component, cell=None):
    return {
        "app.kubernetes.io/name": "multigres",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
        "multigres.com/cell": cell or "multigres-global",
    }


def labels(name, component, cell=None):
    return {
        **sel(name, component, cell),
        "app.kubernetes.io/part-of": "multigres",
        "app.kubernetes.io/managed-by": "function-multigres",
    }


def meta(objname, name, component, cell=None, annotations=None):
    m = {"name": objname, "labels": labels(name, component, cell)}
    if annotations:
        m["annotations"] = dict(annotations)
    return m


def podsec(uid):
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def csec():
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def probes(port, ready, live, startup):
    return {
        "startupProbe": {
            "httpGet": {"path": live, "port": port},
            "periodSeconds": 5,
            "failureThreshold": startup // 5,
            "timeoutSeconds": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": ready, "port": port},
            "periodSeconds": 5,
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


def pgprobes():
    return {
        "startupProbe": {
            "httpGet": {"path": "/live", "port": "pgctld-http"},
            "periodSeconds": 5,
            "failureThreshold": 120,
            "timeoutSeconds": 3,
        },
        "readinessProbe": {
            "exec": {
                "command": ["pg_isready", "-q", "-h", "/var/lib/pooler/pg_sockets", "-p", "5432"]
            },
            "periodSeconds": 5,
            "failureThreshold": 3,
            "timeoutSeconds": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/live", "port": "pgctld-http"},
            "periodSeconds": 10,
            "failureThreshold": 6,
            "timeoutSeconds": 5,
        },
    }


def podhead(name, component, uid, cell=None, zone=None):
    out = {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": podsec(uid),
    }
    if zone:
        out["nodeSelector"] = {"topology.kubernetes.io/zone": zone}
    out["affinity"] = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": sel(name, component, cell)},
                    },
                }
            ]
        }
    }
    return out


def podenv():
    return [
        {
            "name": "POD_NAME",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
        },
        {
            "name": "POD_NAMESPACE",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}},
        },
    ]


def pgenv():
    return [
        {"name": "PGDATA", "value": "/var/lib/pooler/pg_data"},
        {"name": "POSTGRES_USER", "value": "postgres"},
        {"name": "POSTGRES_PASSWORD_FILE", "value": "/etc/postgres-password/password"},
    ]


def poolermounts(backup_path, pg_run):
    out = [
        {"name": "pgdata", "mountPath": "/var/lib/pooler"},
        {"name": "password", "mountPath": "/etc/postgres-password", "readOnly": True},
        {"name": "backups", "mountPath": backup_path},
    ]
    if pg_run:
        out.append({"name": "pg-run", "mountPath": "/var/run/postgresql"})
    out.append({"name": "tmp", "mountPath": "/tmp"})
    return out


def tmp_volume():
    return {"name": "tmp", "emptyDir": {}}


def hpa(objname, name, component, cell, target, auto):
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(objname, name, component, cell),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": target, "name": objname},
            "minReplicas": auto.get("minReplicas", 1),
            "maxReplicas": auto.get("maxReplicas", 4),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": auto.get("targetCPUUtilizationPercentage", 80),
                        },
                    },
                }
            ],
        },
    }


def pdb(objname, name, component, cell, max_unavailable):
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(objname, name, component, cell),
        "spec": {
            "maxUnavailable": max_unavailable,
            "selector": {"matchLabels": sel(name, component, cell)},
        },
    }


def usage(objname, name, etcd, by_kind, by_name):
    return {
        "apiVersion": "protection.crossplane.io/v1beta1",
        "kind": "Usage",
        "metadata": meta(objname, name, "usage"),
        "spec": {
            "of": {"apiVersion": "apps/v1", "kind": "StatefulSet", "resourceRef": {"name": etcd}},
            "by": {"apiVersion": "apps/v1", "kind": by_kind, "resourceRef": {"name": by_name}},
            "reason": "etcd holds the topology the Multigres processes need while they shut down",
            "replayDeletion": True,
        },
    }


def claim_spec(access_modes, size, storage_class):
    out = {"accessModes": list(access_modes), "resources": {"requests": {"storage": size}}}
    if storage_class:
        out["storageClassName"] = storage_class
    return out


def short_hash(value):
    blob = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


def objects(xr):
    """Composition resource name -> manifest, for one XMultigres."""
    spec = xr.get("spec") or {}
    name = xr["metadata"]["name"]
    ns = xr["metadata"]["namespace"]
    img = spec.get("images") or {}
    mg_image = img.get("multigres", MG_IMAGE)
    pg_image = img.get("pgctld", PG_IMAGE)
    etcd_image = img.get("etcd", ETCD_IMAGE)
    pull = img.get("pullPolicy", "IfNotPresent")
    cells = spec.get("cells") or [{"name": "zone1"}]
    cell_names = [c["name"] for c in cells]
    log_level = spec.get("logLevel", "info")
    topo = f"{name}-etcd.{ns}.svc:2379"
    backup_path = dig(spec, "backup", "path", default="/backups")
    existing_claim = dig(spec, "backup", "existingClaim", default="")
    claim = existing_claim or f"{name}-backups"
    when_deleted = dig(spec, "pvcRetention", "whenDeleted", default="Retain")
    when_scaled = dig(spec, "pvcRetention", "whenScaled", default="Retain")
    secret_name = dig(spec, "postgres", "passwordSecretRef", "name", default="")
    secret_key = dig(spec, "postgres", "passwordSecretRef", "key", default="password")
    durability = dig(spec, "postgres", "durabilityPolicy", default="AT_LEAST_2")
    initdb = dig(spec, "postgres", "initdbArgs", default="")
    out = {}

    # ---------------------------------------------------------------- shared
    out["serviceaccount"] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(name, name, "serviceaccount"),
        "automountServiceAccountToken": False,
    }
    if not existing_claim:
        out["backup-pvc"] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(claim, name, "backup"),
            "spec": claim_spec(
                dig(spec, "backup", "storage", "accessModes", default=["ReadWriteOnce"]),
                dig(spec, "backup", "storage", "size", default="10Gi"),
                dig(spec, "backup", "storage", "storageClassName", default=""),
            ),
        }

    # ---------------------------------------------------------------- etcd
    replicas = int(dig(spec, "etcd", "replicas", default=3))
    etcd = f"{name}-etcd"
    headless = f"{name}-etcd-headless"
    members = ",".join(
        f"{etcd}-{i}=http://{etcd}-{i}.{headless}.{ns}.svc:2380" for i in range(replicas)
    )
    env = podenv()
    for k, v in (
        ("ETCD_NAME", "$(POD_NAME)"),
        ("ETCD_DATA_DIR", "/var/lib/etcd/data"),
        ("ETCD_LISTEN_CLIENT_URLS", "http://[::]:2379"),
        ("ETCD_LISTEN_PEER_URLS", "http://[::]:2380"),
        ("ETCD_LISTEN_METRICS_URLS", "http://[::]:2381"),
        ("ETCD_ADVERTISE_CLIENT_URLS", f"http://$(POD_NAME).{headless}.$(POD_NAMESPACE).svc:2379"),
        (
            "ETCD_INITIAL_ADVERTISE_PEER_URLS",
            f"http://$(POD_NAME).{headless}.$(POD_NAMESPACE).svc:2380",
        ),
        ("ETCD_INITIAL_CLUSTER", members),
        ("ETCD_INITIAL_CLUSTER_STATE", "new"),
        ("ETCD_INITIAL_CLUSTER_TOKEN", etcd),
    ):
        env.append({"name": k, "value": v})
    etcd_resources = dig(
        spec,
        "etcd",
        "resources",
        default={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    )
    out["etcd-statefulset"] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(etcd, name, "etcd"),
        "spec": {
            "replicas": replicas,
            "serviceName": headless,
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": sel(name, "etcd")},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": when_deleted,
                "whenScaled": when_scaled,
            },
            "template": {
                "metadata": {"labels": labels(name, "etcd")},
                "spec": {
                    **podhead(name, "etcd", UID),
                    "containers": [
                        {
                            "name": "etcd",
                            "image": etcd_image,
                            "imagePullPolicy": pull,
                            "command": ["/usr/local/bin/etcd"],
                            "env": env,
                            "ports": [
                                {"name": "client", "containerPort": 2379, "protocol": "TCP"},
                                {"name": "peer", "containerPort": 2380, "protocol": "TCP"},
                                {"name": "metrics", "containerPort": 2381, "protocol": "TCP"},
                            ],
                            "resources": etcd_resources,
                            "securityContext": csec(),
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/var/lib/etcd"},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                            **probes("metrics", "/readyz", "/livez", 150),
                        }
                    ],
                    "volumes": [tmp_volume()],
                    "terminationGracePeriodSeconds": 30,
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": labels(name, "etcd")},
                    "spec": claim_spec(
                        ["ReadWriteOnce"],
                        dig(spec, "etcd", "storage", "size", default="1Gi"),
                        dig(spec, "etcd", "storage", "storageClassName", default=""),
                    ),
                }
            ],
        },
    }
    etcd_ports = [
        {"name": "client", "port": 2379, "targetPort": "client", "protocol": "TCP"},
        {"name": "peer", "port": 2380, "targetPort": "peer", "protocol": "TCP"},
    ]
    out["etcd-headless-service"] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(headless, name, "etcd"),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": sel(name, "etcd"),
            "ports": etcd_ports,
        },
    }
    out["etcd-service"] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(etcd, name, "etcd"),
        "spec": {"type": "ClusterIP", "selector": sel(name, "etcd"), "ports": etcd_ports[:1]},
    }
    out["etcd-pdb"] = pdb(etcd, name, "etcd", None, max(1, (replicas - 1) // 2))

    # ---------------------------------------------------------------- topology
    template = {
        "metadata": {"labels": labels(name, "topology")},
        "spec": {
            **podhead(name, "topology", UID),
            "containers": [
                {
                    "name": "createclustermetadata",
                    "image": mg_image,
                    "imagePullPolicy": pull,
                    "command": ["/multigres/bin/multigres"],
                    "args": [
                        "createclustermetadata",
                        f"--global-topo-address={topo}",
                        "--global-topo-root=/multigres/global",
                        f"--cells={','.join(cell_names)}",
                        f"--durability-policy={durability}",
                        f"--backup-location={backup_path}",
                    ],
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"memory": "128Mi"},
                    },
                    "securityContext": csec(),
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [tmp_volume()],
            "restartPolicy": "OnFailure",
        },
    }
    out["topology-job"] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(f"{name}-topo-{short_hash(template)}", name, "topology"),
        "spec": {"backoffLimit": 30, "template": template},
    }

    # ---------------------------------------------------------------- gateway service
    svc = dig(spec, "multigateway", "service", default={})
    out["multigateway-service"] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(
            f"{name}-multigateway", name, "multigateway", annotations=svc.get("annotations")
        ),
        "spec": {
            "type": svc.get("type", "ClusterIP"),
            "selector": {
                "app.kubernetes.io/name": "multigres",
                "app.kubernetes.io/instance": name,
                "app.kubernetes.io/component": "multigateway",
            },
            "ports": [
                {
                    "name": "postgres",
                    "port": svc.get("port", 5432),
                    "targetPort": "postgres",
                    "protocol": "TCP",
                }
            ],
        },
    }

    # ---------------------------------------------------------------- per cell
    stateless = {
        "multigateway": (15100, 15170, 2, {"cpu": "100m", "memory": "128Mi"}, "256Mi"),
        "multiorch": (15300, 15370, 1, {"cpu": "50m", "memory": "64Mi"}, "128Mi"),
    }
    mp = spec.get("multipooler") or {}
    mp_auto = mp.get("autoscaling") or {}
    for cell in cells:
        cn = cell["name"]
        zone = cell.get("zone", "")
        for component, (http, grpc, default_replicas, req, limit) in stateless.items():
            cs = spec.get(component) or {}
            auto = cs.get("autoscaling") or {}
            objname = f"{name}-{cn}-{component}"
            args = [
                f"--http-port={http}",
                f"--grpc-port={grpc}",
                f"--topo-global-server-addresses={topo}",
                "--topo-global-root=/multigres/global",
                f"--cell={cn}",
                "--hostname=$(POD_IP)",
                "--service-id=$(POD_NAME)",
                f"--log-level={log_level}",
            ]
            ports = [
                {"name": "http", "containerPort": http, "protocol": "TCP"},
                {"name": "grpc", "containerPort": grpc, "protocol": "TCP"},
            ]
            if component == "multigateway":
                args.append("--pg-port=5432")
                ports.append({"name": "postgres", "containerPort": 5432, "protocol": "TCP"})
            else:
                args.append("--watch-targets=postgres/default/0-inf")
            dspec = {}
            if not auto.get("enabled", False):
                dspec["replicas"] = cs.get("replicas", default_replicas)
            dspec["selector"] = {"matchLabels": sel(name, component, cn)}
            dspec["strategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            }
            pod_ip = {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}
            dspec["template"] = {
                "metadata": {"labels": labels(name, component, cn)},
                "spec": {
                    **podhead(name, component, UID, cn, zone),
                    "containers": [
                        {
                            "name": component,
                            "image": mg_image,
                            "imagePullPolicy": pull,
                            "command": [f"/multigres/bin/{component}"],
                            "args": args,
                            "env": [*podenv(), {"name": "POD_IP", "valueFrom": pod_ip}],
                            "ports": ports,
                            "resources": cs.get(
                                "resources", {"requests": req, "limits": {"memory": limit}}
                            ),
                            "securityContext": csec(),
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                            **probes("http", "/ready", "/live", 300),
                        }
                    ],
                    "volumes": [tmp_volume()],
                    "terminationGracePeriodSeconds": 30,
                },
            }
            out[f"{cn}-{component}-deployment"] = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta(objname, name, component, cn),
                "spec": dspec,
            }
            if auto.get("enabled", False):
                out[f"{cn}-{component}-hpa"] = hpa(objname, name, component, cn, "Deployment", auto)

        pooler = f"{name}-{cn}-pooler"
        sspec = {}
        if not mp_auto.get("enabled", False):
            sspec["replicas"] = mp.get("replicasPerCell", 2)
        res = mp.get("resources") or {}
        sspec.update(
            {
                "serviceName": pooler,
                "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "RollingUpdate"},
                "selector": {"matchLabels": sel(name, "multipooler", cn)},
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": when_deleted,
                    "whenScaled": when_scaled,
                },
                "template": {
                    "metadata": {"labels": labels(name, "multipooler", cn)},
                    "spec": {
                        **podhead(name, "multipooler", PG_UID, cn, zone),
                        "containers": [
                            {
                                "name": "postgres",
                                "image": pg_image,
                                "imagePullPolicy": pull,
                                "command": ["/usr/local/bin/pgctld"],
                                "args": [
                                    "server",
                                    "--pooler-dir=/var/lib/pooler",
                                    "--grpc-port=15470",
                                    "--http-port=15400",
                                    "--pg-port=5432",
                                    "--pg-listen-addresses=*",
                                    f"--log-level={log_level}",
                                ],
                                "env": [
                                    *pgenv(),
                                    {"name": "POSTGRES_INITDB_ARGS", "value": initdb},
                                ],
                                "ports": [
                                    {
                                        "name": "pgctld-http",
                                        "containerPort": 15400,
                                        "protocol": "TCP",
                                    },
                                    {
                                        "name": "pgctld-grpc",
                                        "containerPort": 15470,
                                        "protocol": "TCP",
                                    },
                                    {"name": "postgres", "containerPort": 5432, "protocol": "TCP"},
                                ],
                                "resources": res.get(
                                    "postgres",
                                    {
                                        "requests": {"cpu": "100m", "memory": "256Mi"},
                                        "limits": {"memory": "512Mi"},
                                    },
                                ),
                                "securityContext": csec(),
                                "volumeMounts": poolermounts(backup_path, True),
                                **pgprobes(),
                            },
                            {
                                "name": "multipooler",
                                "image": mg_image,
                                "imagePullPolicy": pull,
                                "command": ["/multigres/bin/multipooler"],
                                "args": [
                                    "--http-port=15200",
                                    "--grpc-port=15270",
                                    f"--topo-global-server-addresses={topo}",
                                    "--topo-global-root=/multigres/global",
                                    f"--cell={cn}",
                                    f"--hostname=$(POD_NAME).{pooler}.$(POD_NAMESPACE).svc",
                                    "--service-id=$(POD_NAME)",
                                    f"--log-level={log_level}",
                                    "--database=postgres",
                                    "--table-group=default",
                                    "--shard=0-inf",
                                    "--pooler-dir=/var/lib/pooler",
                                    "--socket-file=/var/lib/pooler/pg_sockets/.s.PGSQL.5432",
                                    "--pgctld-addr=localhost:15470",
                                    "--pg-port=5432",
                                ],
                                "env": [*podenv(), *pgenv()],
                                "ports": [
                                    {"name": "http", "containerPort": 15200, "protocol": "TCP"},
                                    {"name": "grpc", "containerPort": 15270, "protocol": "TCP"},
                                ],
                                "resources": res.get(
                                    "multipooler",
                                    {
                                        "requests": {"cpu": "100m", "memory": "128Mi"},
                                        "limits": {"memory": "256Mi"},
                                    },
                                ),
                                "securityContext": csec(),
                                "volumeMounts": poolermounts(backup_path, False),
                                **probes("http", "/ready", "/live", 600),
                            },
                        ],
                        "volumes": [
                            {
                                "name": "password",
                                "secret": {
                                    "secretName": secret_name,
                                    "items": [{"key": secret_key, "path": "password"}],
                                    "defaultMode": 288,
                                },
                            },
                            {"name": "backups", "persistentVolumeClaim": {"claimName": claim}},
                            {"name": "pg-run", "emptyDir": {}},
                            tmp_volume(),
                        ],
                        "terminationGracePeriodSeconds": 60,
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "pgdata", "labels": labels(name, "multipooler", cn)},
                        "spec": claim_spec(
                            ["ReadWriteOnce"],
                            dig(mp, "storage", "size", default="10Gi"),
                            dig(mp, "storage", "storageClassName", default=""),
                        ),
                    }
                ],
            }
        )
        out[f"{cn}-pooler-statefulset"] = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(pooler, name, "multipooler", cn),
            "spec": sspec,
        }
        out[f"{cn}-pooler-service"] = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(pooler, name, "multipooler", cn),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": sel(name, "multipooler", cn),
                "ports": [
                    {"name": "http", "port": 15200, "targetPort": "http", "protocol": "TCP"},
                    {"name": "grpc", "port": 15270, "targetPort": "grpc", "protocol": "TCP"},
                    {
                        "name": "postgres",
                        "port": 5432,
                        "targetPort": "postgres",
                        "protocol": "TCP",
                    },
                ],
            },
        }
        out[f"{cn}-pooler-pdb"] = pdb(pooler, name, "multipooler", cn, 1)
        if mp_auto.get("enabled", False):
            out[f"{cn}-pooler-hpa"] = hpa(pooler, name, "multipooler", cn, "StatefulSet", mp_auto)
        if dig(spec, "usages", "enabled", default=True):
            out[f"{cn}-pooler-usage"] = usage(
                f"{name}-{cn}-pooler-uses-etcd", name, etcd, "StatefulSet", pooler
            )
            out[f"{cn}-multiorch-usage"] = usage(
                f"{name}-{cn}-orch-uses-etcd", name, etcd, "Deployment", f"{name}-{cn}-multiorch"
            )

    # ---------------------------------------------------------------- network policies
    if dig(spec, "networkPolicy", "enabled", default=False):
        instance = {"app.kubernetes.io/instance": name}
        out["networkpolicy-internal"] = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(f"{name}-internal", name, "networkpolicy"),
            "spec": {
                "podSelector": {"matchLabels": instance},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": name}}}
                        ]
                    }
                ],
            },
        }
        out["networkpolicy-gateway"] = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(f"{name}-gateway", name, "networkpolicy"),
            "spec": {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/instance": name,
                        "app.kubernetes.io/component": "multigateway",
                    }
                },
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": 5432}]}],
            },
        }
    return out


class MultigresComposite(BaseComposite):
    def compose(self):
        xr = {
            "metadata": {
                "name": str(self.metadata.name),
                "namespace": str(self.metadata.namespace),
            },
            "spec": json.loads(format(self.spec, "jsonc")),
        }
        for key, obj in objects(xr).items():
            r = self.resources[key](obj["apiVersion"], obj["kind"])
            for field, value in obj.items():
                if field not in ("apiVersion", "kind"):
                    r.desired[field] = value
            if obj["kind"] in EXIST_READY:
                r.ready = bool(r.observed)
